/**
 * The tool surface, completed: send_message.strict, poll_messages.last and a clamped limit,
 * create_session.server, re-binding a session's relay with set_session_alias.server, status and
 * pairing codes for a full id this install does not hold, join_session by alias, and
 * leave_session.forget for a creator — each through the built server over stdio.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectError, expectNoSecretsSeen, startServer, textOf } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';
import { useTextOnlyProxy } from '../helpers/text-only-proxy.js';

/** A session's full id, read from a server's store as a user would copy it from a terminal. */
function fullId(harness: { home: string }, alias: string): string {
  const data = JSON.parse(readFileSync(join(harness.home, 'store.json'), 'utf8')) as {
    sessions: Record<string, { alias?: string }>;
  };
  const found = Object.entries(data.sessions).find(([, session]) => session.alias === alias);
  if (!found) throw new Error(`no session ${alias}`);
  return found[0];
}

interface Polled {
  messages: { text: string; cursor: string }[];
  sessions: { session: string; cursor: string }[];
  clamped?: boolean;
}

describe('MCP server: the completed tool surface', async () => {
  const relay = await useRelay();
  const other = await useRelay();
  const alice = await startServer({ relayUrl: relay.url, agentId: 'alice' });
  const bob = await startServer({ relayUrl: relay.url, agentId: 'bob' });

  it('poll_messages last: N returns the last N without moving the read position', async () => {
    const created = await alice.ok<{ pairing: { code: string } }>('create_session', {
      alias: 'history',
      greeting: 'hi',
    });
    await bob.ok('claim_pairing_code', { code: created.pairing.code, alias: 'history' });
    for (const text of ['one', 'two', 'three', 'four'])
      await alice.ok('send_message', { session: 'history', text });
    const last = await bob.ok<Polled>('poll_messages', { session: 'history', last: 2 });
    expect(last.messages.map((message) => message.text)).toEqual(['three', 'four']);
    expect(last.sessions[0]?.cursor).toBe('0');
    const unread = await bob.ok<Polled>('poll_messages', { session: 'history' });
    expect(unread.messages.map((message) => message.text)).toEqual(['one', 'two', 'three', 'four']);
    const afterRead = await bob.ok<Polled>('poll_messages', { session: 'history', last: 3 });
    expect(afterRead.messages.map((message) => message.text)).toEqual(['two', 'three', 'four']);
    expectError(await bob.fail('poll_messages', { last: 2 }), 'invalid_argument');
  });

  it('clamps a limit above the maximum and says so instead of refusing', async () => {
    const result = await bob.call('poll_messages', { session: 'history', limit: 500 });
    expect(result.isError).toBeFalsy();
    expect((result.structuredContent as unknown as Polled).clamped).toBe(true);
    expect(textOf(result)).toContain('(The limit was reduced to 200, the most one poll returns.)');
  });

  it('send_message strict fails rather than fold JSON on a text-only relay', async () => {
    const proxy = await useTextOnlyProxy(relay.url);
    await alice.ok('create_session', { alias: 'plain', pair: false, server: proxy.url });
    const text = await alice.fail('send_message', {
      session: 'plain',
      json: { a: 1 },
      strict: true,
    });
    expectError(text, 'json_not_supported');
    const folded = await alice.ok<{ format: string }>('send_message', {
      session: 'plain',
      json: { a: 1 },
    });
    expect(folded.format).toBe('folded');
  });

  it('create_session server creates on another relay; set_session_alias server re-binds', async () => {
    const created = await alice.ok<{ session: { server: string } }>('create_session', {
      alias: 'elsewhere',
      pair: false,
      server: `${other.url}/`,
    });
    expect(created.session.server).toBe(other.url);
    // The same relay reached through a text-only front: re-bound, the session keeps working.
    const proxy = await useTextOnlyProxy(other.url);
    const rebound = await alice.call('set_session_alias', {
      session: 'elsewhere',
      server: proxy.url,
    });
    expect(rebound.structuredContent).toMatchObject({
      session: { session: 'elsewhere', server: proxy.url },
      previous_server: other.url,
    });
    expect(textOf(rebound)).toContain(`now bound to ${proxy.url} (was ${other.url})`);
    const sent = await alice.ok<{ format: string }>('send_message', {
      session: 'elsewhere',
      json: { via: 'proxy' },
    });
    expect(sent.format).toBe('folded');
    expectError(
      await alice.fail('set_session_alias', { session: 'elsewhere' }),
      'invalid_argument',
    );
  });

  it('answers status and pairing for a full session id this install does not hold', async () => {
    await alice.ok('create_session', { alias: 'public', pair: false });
    const id = fullId(alice, 'public');
    const status = await bob.call('get_session_status', { session: id });
    expect(status.structuredContent).toMatchObject({
      label: id.slice(0, 12),
      members: ['alice'],
      joined: false,
    });
    expect(status.structuredContent).not.toHaveProperty('session');
    expect(textOf(status)).toContain('This install does not hold this session');
    expect(textOf(status)).not.toContain(id);
    const pairing = await bob.call('create_pairing_code', { session: id });
    expect(pairing.isError).toBeFalsy();
    expect(JSON.stringify(pairing)).not.toContain(id);
    const code = (pairing.structuredContent as { code: string }).code;
    const claimed = await bob.ok<{ session: { session: string } }>('claim_pairing_code', {
      code,
      alias: 'public',
    });
    expect(claimed.session.session).toBe('public');
  });

  it('join_session takes an alias: a live membership is left as it is', async () => {
    const again = await bob.ok<{ already_joined: boolean }>('join_session', {
      session_id: 'public',
    });
    expect(again.already_joined).toBe(true);
  });

  it("leave_session forget drops a creator's session locally; the refusal names it", async () => {
    await alice.ok('create_session', { alias: 'done', pair: false });
    const refused = await alice.fail('leave_session', { session: 'done' });
    expectError(refused, 'creator_cannot_leave');
    expect(refused).toContain('forget: true');
    expect(refused).toContain('renew_session');
    const forgotten = await alice.call('leave_session', { session: 'done', forget: true });
    expect(forgotten.structuredContent).toMatchObject({ outcome: 'forgotten' });
    expect(textOf(forgotten)).toContain('Forgot session "done"');
    const list = await alice.ok<{ sessions: { session: string }[] }>('list_sessions');
    expect(list.sessions.map((session) => session.session)).not.toContain('done');
  });

  it('leaks no session key and no full session id', () => {
    expectNoSecretsSeen([alice, bob]);
  });
});
