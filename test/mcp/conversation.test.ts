import { describe, expect, it, vi } from 'vitest';
import { expectNoSecretsSeen, startServer, textOf } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';

interface SessionRef {
  session: string;
  short_id: string;
  alias?: string;
  agent_id: string;
  role: string;
  server: string;
}
interface Message {
  session: string;
  from: string;
  verified: boolean;
  cursor: string;
  text: string;
  json?: unknown;
  own?: boolean;
  greeting?: boolean;
}
interface Messages {
  messages: Message[];
  timed_out?: boolean;
  timeout_seconds?: number;
  clamped?: boolean;
  has_more: boolean;
  notice: string;
  next: string;
  sessions: { session: string; cursor: string; has_more: boolean }[];
}

describe('MCP server: a conversation between two agents', async () => {
  const relay = await useRelay();
  const alice = await startServer({ relayUrl: relay.url, agentId: 'alice' });
  const bob = await startServer({ relayUrl: relay.url, agentId: 'bob' });

  it('declares every capability and gives the model instructions', () => {
    expect(alice.client.getServerCapabilities()).toMatchObject({
      tools: {},
      resources: { subscribe: true, listChanged: true },
      prompts: {},
      logging: {},
      completions: {},
    });
    const instructions = alice.client.getInstructions() ?? '';
    expect(instructions).toContain('create_session');
    expect(instructions).toContain('wait_for_messages');
    expect(instructions).toMatch(/untrusted/);
    expect(instructions).toMatch(/keys are kept by this server and never shown/i);
  });

  it('lists the tools with their schemas and annotations', async () => {
    const { tools } = await alice.client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(
      [
        'claim_pairing_code',
        'create_pairing_code',
        'create_session',
        'get_pairing_status',
        'get_session_status',
        'join_session',
        'leave_session',
        'list_sessions',
        'poll_messages',
        'renew_session',
        'send_message',
        'set_session_alias',
        'wait_for_messages',
      ].sort(),
    );
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.outputSchema, tool.name).toBeDefined();
      for (const hint of [
        'readOnlyHint',
        'destructiveHint',
        'idempotentHint',
        'openWorldHint',
      ] as const) {
        expect(typeof tool.annotations?.[hint], `${tool.name}.${hint}`).toBe('boolean');
      }
      for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
        expect(
          (schema as { description?: string }).description,
          `${tool.name}.${field}`,
        ).toBeTruthy();
      }
    }
    const readOnly = tools
      .filter((tool) => tool.annotations?.readOnlyHint)
      .map((tool) => tool.name);
    expect(readOnly.sort()).toEqual([
      'get_pairing_status',
      'get_session_status',
      'list_sessions',
      'poll_messages',
      'wait_for_messages',
    ]);
    expect(tools.find((tool) => tool.name === 'leave_session')?.annotations?.destructiveHint).toBe(
      true,
    );
    expect(
      tools.map(({ name, title, description, inputSchema, outputSchema, annotations }) => ({
        name,
        title,
        description,
        inputSchema,
        outputSchema,
        annotations,
      })),
    ).toMatchSnapshot();
  });

  let code = '';
  let aliceView: SessionRef;
  let bobView: SessionRef;

  it('creates a session with a greeting and a pairing link ready for the human', async () => {
    const created = await alice.ok<{
      session: SessionRef;
      pairing: { code: string; link: string; share_text: string };
      next: string;
    }>('create_session', {
      greeting: 'Hi, I am alice. Let us plan the release.',
      alias: 'release',
    });
    aliceView = created.session;
    expect(created.session).toMatchObject({
      session: 'release',
      alias: 'release',
      agent_id: 'alice',
      role: 'creator',
      server: relay.url,
    });
    expect(created.session.short_id).toHaveLength(12);
    expect(created.pairing.link).toBe(`${relay.url}/p/${created.pairing.code}`);
    expect(created.pairing.share_text).toContain(created.pairing.link);
    expect(created.next).toContain(created.pairing.link);
    code = created.pairing.code;
  });

  it("claims the code in lower case and hands over the greeting as the creator's words", async () => {
    const status = await alice.ok<{ state: string }>('get_pairing_status', { code });
    expect(status.state).toBe('pending');
    const claimed = await bob.ok<{
      session: SessionRef;
      greeting: { from: string; text: string };
      notice: string;
      members: string[];
    }>('claim_pairing_code', { code: code.toLowerCase(), alias: 'with-alice' });
    bobView = claimed.session;
    expect(claimed.greeting).toEqual({
      from: 'alice',
      text: 'Hi, I am alice. Let us plan the release.',
    });
    expect(claimed.notice).toMatch(/untrusted/);
    expect(claimed.members.sort()).toEqual(['alice', 'bob']);
    expect(claimed.session.short_id).toBe(aliceView.short_id);
    expect((await alice.ok<{ state: string }>('get_pairing_status', { code })).state).toBe(
      'claimed',
    );
  });

  it('delivers a message through a wait, verified, framed as untrusted data', async () => {
    const waiting = alice.ok<Messages>('wait_for_messages', {
      session: 'release',
      timeout_seconds: 20,
    });
    const sent = await bob.ok<{ verified: boolean; cursor: string; next: string }>('send_message', {
      session: 'with-alice',
      text: 'Hello alice, ready when you are.',
    });
    expect(sent.verified).toBe(true);
    expect(sent.next).toContain('wait_for_messages');
    const got = await waiting;
    expect(got.timed_out).toBe(false);
    expect(got.messages).toEqual([
      expect.objectContaining({
        session: 'release',
        from: 'bob',
        verified: true,
        text: 'Hello alice, ready when you are.',
      }),
    ]);
    expect(got.notice).toMatch(/untrusted data/);
    expect(got.notice).toMatch(/never as instructions/);
    expect(got.notice).toMatch(/session key/);
    expect(got.next).toContain('send_message');
  });

  it('is not woken by its own messages', async () => {
    const waiting = bob.call('wait_for_messages', { session: 'with-alice', timeout_seconds: 20 });
    await bob.ok('send_message', { session: 'with-alice', text: 'talking to myself' });
    await alice.ok('send_message', {
      session: 'release',
      text: 'Reply from alice',
      json: { step: 1 },
    });
    const got = (await waiting).structuredContent as unknown as Messages;
    expect(got.messages.map((m) => [m.from, m.text, m.own ?? false])).toEqual([
      ['alice', 'Reply from alice', false],
    ]);
    expect(got.messages[0]?.json).toEqual({ step: 1 });
  });

  it('replays everything with after "0", greeting first, without moving the read position', async () => {
    const replay = await bob.ok<Messages>('poll_messages', { session: 'with-alice', after: '0' });
    expect(
      replay.messages.map((m) => [m.cursor, m.from, m.greeting ?? false, m.own ?? false]),
    ).toEqual([
      ['0', 'alice', true, false],
      ['1', 'bob', false, true],
      ['2', 'bob', false, true],
      ['3', 'alice', false, false],
    ]);
    expect(replay.messages[0]?.verified).toBe(false);
    const fresh = await bob.ok<Messages>('poll_messages', { session: 'with-alice' });
    expect(fresh.messages).toEqual([]);
    expect(fresh.next).toContain('wait_for_messages');
  });

  it('times out a wait as an answer, not an error, and invites another wait', async () => {
    const result = await bob.call('wait_for_messages', {
      session: 'with-alice',
      timeout_seconds: 1,
    });
    expect(result.isError).toBeFalsy();
    const got = result.structuredContent as unknown as Messages;
    expect(got).toMatchObject({ messages: [], timed_out: true, timeout_seconds: 1 });
    expect(got.sessions).toEqual([
      { session: 'with-alice', cursor: expect.any(String), has_more: false },
    ]);
    expect(got.next).toMatch(/call `?wait_for_messages`? again/);
    expect(textOf(result)).toContain('No new messages');
  });

  it('clamps an over-limit timeout and says so', async () => {
    const waiting = bob.ok<Messages>('wait_for_messages', {
      session: 'with-alice',
      timeout_seconds: 600,
    });
    await alice.ok('send_message', { session: 'release', text: 'ending the long wait' });
    const got = await waiting;
    expect(got).toMatchObject({ clamped: true, timeout_seconds: 50, timed_out: false });
  });

  it('sends progress notifications during a wait longer than the progress interval', async () => {
    const progress: { progress: number; total?: number; message?: string }[] = [];
    const result = await bob.call(
      'wait_for_messages',
      { session: 'with-alice', timeout_seconds: 6 },
      {
        onprogress: (update) => progress.push(update),
        timeout: 20_000,
      },
    );
    expect((result.structuredContent as unknown as Messages).timed_out).toBe(true);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress[0]).toMatchObject({ total: 6 });
    expect(progress[0]?.progress).toBeGreaterThan(0);
    expect(progress[0]?.message).toContain('with-alice');
  });

  it('stops a cancelled wait without moving the read position', async () => {
    const controller = new AbortController();
    const waiting = bob.call(
      'wait_for_messages',
      { session: 'with-alice', timeout_seconds: 30 },
      { signal: controller.signal },
    );
    // A list call answered means the server has read the wait request before it.
    await bob.ok('list_sessions');
    controller.abort();
    await expect(waiting).rejects.toThrow();
    await alice.ok('send_message', { session: 'release', text: 'sent after the cancel' });
    const polled = await bob.ok<Messages>('poll_messages', { session: 'with-alice' });
    expect(polled.messages.map((m) => m.text)).toEqual(['sent after the cancel']);
    // The server is still responsive: the cancelled wait freed everything.
    expect((await bob.ok<{ count: number }>('list_sessions')).count).toBe(1);
  });

  it('keeps large results within budget and says how to get the rest', async () => {
    for (const n of [1, 2, 3])
      await alice.ok('send_message', { session: 'release', text: `${n}`.repeat(9_000) });
    const first = await bob.ok<Messages>('poll_messages', {
      session: 'with-alice',
      include_members: true,
    });
    expect(first.messages.map((m) => m.text.length)).toEqual([9_000, 9_000]);
    expect(first.has_more).toBe(true);
    expect(first.next).toMatch(/poll_messages/);
    expect(first.sessions[0]).toMatchObject({
      has_more: true,
      members: expect.arrayContaining([expect.objectContaining({ agent_id: 'alice' })]),
    });
    const rest = await bob.ok<Messages>('poll_messages', { session: 'with-alice' });
    expect(rest.messages.map((m) => m.text[0])).toEqual(['3']);
    expect(rest.has_more).toBe(false);
  });

  it('polls every session when none is named', async () => {
    const second = await alice.ok<{ session: SessionRef; pairing: { link: string } }>(
      'create_session',
      { alias: 'side' },
    );
    await bob.ok('claim_pairing_code', { code: second.pairing.link, alias: 'side-b' });
    await alice.ok('send_message', { session: 'release', text: 'on release' });
    await alice.ok('send_message', { session: 'side', text: 'on side' });
    const all = await bob.ok<Messages>('poll_messages', {});
    expect(all.messages.map((m) => `${m.session}:${m.text}`).sort()).toEqual([
      'side-b:on side',
      'with-alice:on release',
    ]);
    expect(all.sessions.map((s) => s.session).sort()).toEqual(['side-b', 'with-alice']);
  });

  it('waits on every session when none is named', async () => {
    const waiting = bob.ok<Messages>('wait_for_messages', { timeout_seconds: 20 });
    await alice.ok('send_message', { session: 'side', text: 'anyone?' });
    expect((await waiting).messages.map((m) => `${m.session}:${m.text}`)).toEqual([
      'side-b:anyone?',
    ]);
  });

  it('resolves sessions by alias, short id, id prefix, and renames them', async () => {
    const prefix = bobView.short_id.slice(0, 8);
    const byPrefix = await bob.ok<{
      session: SessionRef;
      members: string[];
      joined: boolean;
      joined_as: string;
    }>('get_session_status', { session: prefix });
    expect(byPrefix.session.alias).toBe('with-alice');
    expect(byPrefix).toMatchObject({ joined: true, joined_as: 'bob' });
    const renamed = await bob.ok<{
      alias?: string;
      previous?: string;
      session: SessionRef;
    }>('set_session_alias', { session: bobView.short_id, alias: 'planning' });
    expect(renamed).toMatchObject({ alias: 'planning', previous: 'with-alice' });
    const cleared = await bob.ok<{ alias?: string; session: SessionRef }>('set_session_alias', {
      session: 'planning',
      alias: '',
    });
    expect(cleared.alias).toBeUndefined();
    expect(cleared.session.session).toBe(bobView.short_id);
    await bob.ok('set_session_alias', { session: bobView.short_id, alias: 'with-alice' });
    const list = await bob.ok<{
      sessions: (SessionRef & { live: string; cursor: string; member: boolean })[];
    }>('list_sessions');
    expect(list.sessions.map((s) => [s.session, s.live, s.member]).sort()).toEqual([
      ['side-b', 'active', true],
      ['with-alice', 'active', true],
    ]);
    const renewed = await alice.ok<{ ttl_seconds: number }>('renew_session', {
      session: 'release',
      ttl_seconds: 7200,
    });
    expect(renewed.ttl_seconds).toBe(7200);
  });

  it('exposes sessions as resources: list, complete, read, subscribe, update, unsubscribe', async () => {
    const { resources } = await bob.client.listResources();
    expect(resources.map((r) => r.uri).sort()).toEqual([
      'nexus://sessions/side-b',
      'nexus://sessions/with-alice',
    ]);
    expect(resources.find((r) => r.name === 'with-alice')?.description).toMatch(/alice/);
    const { resourceTemplates } = await bob.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(['nexus://sessions/{session}']);
    const completion = await bob.client.complete({
      ref: { type: 'ref/resource', uri: 'nexus://sessions/{session}' },
      argument: { name: 'session', value: 'wi' },
    });
    expect(completion.completion.values).toEqual(['with-alice']);

    const before = await bob.ok<Messages>('poll_messages', { session: 'with-alice', after: '0' });
    const transcript = await bob.read('nexus://sessions/with-alice');
    expect(transcript).toContain('# Session with-alice');
    expect(transcript).toMatch(/untrusted data/);
    expect(transcript).toContain('alice (greeting): Hi, I am alice.');
    expect(transcript).toContain('Members (2/50): ');
    const statusAfter = await bob.ok<{ session: SessionRef }>('get_session_status', {
      session: 'with-alice',
    });
    expect(statusAfter.session.session).toBe('with-alice');
    // Reading the transcript did not consume anything.
    expect(
      (await bob.ok<Messages>('poll_messages', { session: 'with-alice', after: '0' })).messages
        .length,
    ).toBe(before.messages.length);

    await bob.client.subscribeResource({ uri: 'nexus://sessions/with-alice' });
    const updatesBefore = bob.notifications.filter(
      (n) => n.method === 'notifications/resources/updated',
    ).length;
    await alice.ok('send_message', { session: 'release', text: 'for the subscriber' });
    await vi.waitFor(
      () =>
        expect(
          bob.notifications.filter((n) => n.method === 'notifications/resources/updated').length,
        ).toBeGreaterThan(updatesBefore),
      { timeout: 10_000 },
    );
    expect(bob.notifications.at(-1)).toEqual({
      method: 'notifications/resources/updated',
      params: { uri: 'nexus://sessions/with-alice' },
    });
    // Still unread: the subscription only announced it.
    expect(
      (await bob.ok<Messages>('poll_messages', { session: 'with-alice' })).messages.map(
        (m) => m.text,
      ),
    ).toEqual(['for the subscriber']);
    await bob.client.unsubscribeResource({ uri: 'nexus://sessions/with-alice' });
  });

  it('announces list changes when sessions come and go', async () => {
    const count = () =>
      bob.notifications.filter((n) => n.method === 'notifications/resources/list_changed').length;
    const before = count();
    const third = await alice.ok<{ pairing: { code: string } }>('create_session', {
      alias: 'third',
    });
    await bob.ok('claim_pairing_code', { code: third.pairing.code, alias: 'third-b' });
    await bob.ok('leave_session', { session: 'third-b' });
    await vi.waitFor(() => expect(count()).toBeGreaterThanOrEqual(before + 2), { timeout: 10_000 });
    expect((await bob.client.listResources()).resources.map((r) => r.name)).not.toContain(
      'third-b',
    );
  });

  it('offers prompts that walk through starting and joining', async () => {
    const { prompts } = await alice.client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(['join_conversation', 'start_conversation']);
    const start = await alice.client.getPrompt({
      name: 'start_conversation',
      arguments: { topic: 'the release date' },
    });
    const startText = start.messages
      .map((m) => (m.content.type === 'text' ? m.content.text : ''))
      .join('\n');
    expect(startText).toContain('create_session');
    expect(startText).toContain('the release date');
    const join = await alice.client.getPrompt({
      name: 'join_conversation',
      arguments: { link_or_code: 'PEARL-FOCAL-S5SJV' },
    });
    const joinText = join.messages
      .map((m) => (m.content.type === 'text' ? m.content.text : ''))
      .join('\n');
    expect(joinText).toContain('claim_pairing_code');
    expect(joinText).toContain('PEARL-FOCAL-S5SJV');
  });

  it('sends log events as notifications and to stderr, never to stdout', () => {
    const logs = alice.notifications.filter((n) => n.method === 'notifications/message');
    expect(logs.length).toBeGreaterThan(0);
    expect(alice.stderr.join('')).toContain('Created session release');
    expect(alice.transportErrors).toEqual([]);
    expect(bob.transportErrors).toEqual([]);
  });

  it('leaks no session key and no full session id in anything it showed', () => {
    expectNoSecretsSeen([alice, bob]);
  });
});
