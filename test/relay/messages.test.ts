import { expect, it } from 'vitest';
import { PollResponse, SendResponse } from '../../src/protocol/index.js';
import type { RelayOptions } from '../../src/relay/index.js';
import { expectError, expectOk, FakeClock, T0, TestRelay } from './helpers.js';
import { describeEachStore } from './stores.js';

let relay: TestRelay;
const start = async (options: RelayOptions = {}, clock = new FakeClock()) => {
  relay = await TestRelay.use(options, clock);
  return relay;
};

describeEachStore('send', () => {
  it('stores a verified message with the sender key and answers 201', async () => {
    const clock = new FakeClock();
    await start({}, clock);
    const { sessionId, key } = await relay.sessionWithCreator('alice', { ttl: 600 });
    clock.advanceSeconds(5);
    const reply = await relay.call('POST', `/v1/sessions/${sessionId}/messages`, {
      agentId: 'alice',
      sessionKey: key,
      json: { text: 'hello' },
    });
    const sent = expectOk(reply, 201, SendResponse);
    expect(sent).toEqual({
      id: expect.stringMatching(/^msg_[0-9a-f]{24}$/),
      cursor: '1',
      expiresAt: new Date(T0 + 605_000).toISOString(),
      redacted: 0,
    });
    const polled = await relay.poll(sessionId, 'alice');
    expect(polled.messages).toEqual([
      {
        id: sent.id,
        agentId: 'alice',
        text: 'hello',
        cursor: '1',
        verified: true,
        createdAt: new Date(T0 + 5000).toISOString(),
        expiresAt: new Date(T0 + 605_000).toISOString(),
      },
    ]);
  });

  it('stores an unverified message without a key and refuses a wrong key with 403', async () => {
    await start();
    const { sessionId, key: aliceKey } = await relay.sessionWithCreator('alice');
    const bob = await relay.join(sessionId, 'bob');
    await relay.send(sessionId, 'bob', { text: 'no key' });
    expectError(
      await relay.call('POST', `/v1/sessions/${sessionId}/messages`, {
        agentId: 'bob',
        sessionKey: 'f'.repeat(64),
        json: { text: 'wrong key' },
      }),
      403,
      'invalid_session_key',
    );
    // Another member's key is a wrong key too.
    expectError(
      await relay.call('POST', `/v1/sessions/${sessionId}/messages`, {
        agentId: 'bob',
        sessionKey: aliceKey,
        json: { text: 'wrong key' },
      }),
      403,
      'invalid_session_key',
    );
    await relay.send(sessionId, 'bob', { text: 'with key' }, bob.sessionKey);
    const polled = await relay.poll(sessionId, 'bob');
    expect(polled.messages.map((m) => [m.text, m.verified])).toEqual([
      ['no key', false],
      ['with key', true],
    ]);
  });

  it('refuses non-members, unknown sessions, missing agent ids and empty messages', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice');
    const path = `/v1/sessions/${sessionId}/messages`;
    expectError(
      await relay.call('POST', path, { agentId: 'mallory', json: { text: 'hi' } }),
      403,
      'forbidden',
    );
    expectError(
      await relay.call('POST', `/v1/sessions/${'b'.repeat(48)}/messages`, {
        agentId: 'alice',
        json: { text: 'hi' },
      }),
      404,
      'session_not_found',
    );
    expectError(await relay.call('POST', path, { json: { text: 'hi' } }), 400, 'missing_agent_id');
    const empty = expectError(
      await relay.call('POST', path, { agentId: 'alice', json: { text: '' } }),
      400,
      'invalid_request',
    );
    expect(empty.details).toEqual([{ path: 'text', message: expect.stringContaining('text') }]);
    expectError(
      await relay.call('POST', path, { agentId: 'alice', json: { text: 42 } }),
      400,
      'invalid_request',
    );
    expectError(
      await relay.call('POST', path, { agentId: 'alice', raw: 'hello' }),
      400,
      'invalid_body',
    );
    // Nothing was stored.
    expect((await relay.poll(sessionId, 'alice')).messages).toEqual([]);
  });

  it('round-trips a json payload, with an empty text when none was sent', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const payload = {
      kind: 'plan',
      steps: [1, 2.5, 'three', null, true],
      nested: { a: { b: [] } },
    };
    await relay.send(sessionId, 'alice', { json: payload }, key);
    await relay.send(sessionId, 'alice', { text: 'both', json: [1, 'x'] }, key);
    await relay.send(sessionId, 'alice', { json: 0 }, key);
    const polled = await relay.poll(sessionId, 'alice');
    expect(polled.messages.map((m) => ({ text: m.text, json: m.json }))).toEqual([
      { text: '', json: payload },
      { text: 'both', json: [1, 'x'] },
      { text: '', json: 0 },
    ]);
    // A message without json carries no json field at all.
    await relay.send(sessionId, 'alice', { text: 'plain' }, key);
    const raw = await relay.call('GET', `/v1/sessions/${sessionId}/messages?after=3`, {
      agentId: 'alice',
    });
    expect((raw.body as { messages: object[] }).messages[0]).not.toHaveProperty('json');
  });

  it('refuses bodies over MAX_MESSAGE_BYTES, declared or streamed', async () => {
    await start({ maxMessageBytes: 1000 });
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const path = `/v1/sessions/${sessionId}/messages`;
    const fits = JSON.stringify({ text: 'x'.repeat(1000 - 11) });
    expect(Buffer.byteLength(fits)).toBe(1000);
    expect(
      (await relay.call('POST', path, { agentId: 'alice', sessionKey: key, raw: fits })).status,
    ).toBe(201);
    const tooLarge = JSON.stringify({ text: 'x'.repeat(1000 - 10) });
    expectError(
      await relay.call('POST', path, { agentId: 'alice', sessionKey: key, raw: tooLarge }),
      413,
      'message_too_large',
    );
    // Multi-byte characters count as bytes, not characters.
    expectError(
      await relay.call('POST', path, { agentId: 'alice', json: { text: 'é'.repeat(600) } }),
      413,
      'message_too_large',
    );
    // Chunked, without Content-Length: counted as it arrives.
    const chunks = [
      new TextEncoder().encode('{"text":"'),
      new TextEncoder().encode('y'.repeat(5000)),
      new TextEncoder().encode('"}'),
    ];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await fetch(`${relay.url}${path}`, {
      method: 'POST',
      headers: { 'X-Agent-Id': 'alice', 'Content-Type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toBe('message_too_large');
    expect((await relay.poll(sessionId, 'alice')).messages).toHaveLength(1);
  });
});

describeEachStore('poll', () => {
  it('hands out cursors from 1 and treats after as exclusive', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const empty = await relay.poll(sessionId, 'alice');
    expect(empty).toEqual({ messages: [], nextCursor: '0' });
    for (const text of ['one', 'two', 'three']) await relay.send(sessionId, 'alice', { text }, key);

    const all = await relay.poll(sessionId, 'alice');
    expect(all.messages.map((m) => [m.cursor, m.text])).toEqual([
      ['1', 'one'],
      ['2', 'two'],
      ['3', 'three'],
    ]);
    expect(all.nextCursor).toBe('3');
    const later = await relay.poll(sessionId, 'alice', '?after=1');
    expect(later.messages.map((m) => m.cursor)).toEqual(['2', '3']);
    expect(later.nextCursor).toBe('3');
    expect(await relay.poll(sessionId, 'alice', '?after=3')).toEqual({
      messages: [],
      nextCursor: '3',
    });
    // A cursor from the future is echoed, not corrected.
    expect(await relay.poll(sessionId, 'alice', '?after=99')).toEqual({
      messages: [],
      nextCursor: '99',
    });
  });

  it('returns the greeting at cursor 0 only to a poll without after', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice', { greeting: 'Welcome!' });
    const first = await relay.poll(sessionId, 'alice');
    expect(first.messages).toEqual([
      {
        id: expect.any(String),
        agentId: 'system',
        text: 'Welcome!',
        cursor: '0',
        verified: false,
        type: 'greeting',
        createdAt: new Date(T0).toISOString(),
      },
    ]);
    expect(first.nextCursor).toBe('0');
    expect(await relay.poll(sessionId, 'alice', '?after=0')).toEqual({
      messages: [],
      nextCursor: '0',
    });
    await relay.send(sessionId, 'alice', { text: 'first' }, key);
    const replay = await relay.poll(sessionId, 'alice');
    expect(replay.messages.map((m) => m.cursor)).toEqual(['0', '1']);
    expect(replay.nextCursor).toBe('1');
    expect((await relay.poll(sessionId, 'alice', '?after=0')).messages.map((m) => m.text)).toEqual([
      'first',
    ]);
  });

  it('lists members with their last activity when asked', async () => {
    const clock = new FakeClock();
    await start({}, clock);
    const { sessionId } = await relay.sessionWithCreator('alice');
    clock.advanceSeconds(10);
    await relay.join(sessionId, 'bob');
    clock.advanceSeconds(10);
    const polled = await relay.poll(sessionId, 'alice', '?members=true');
    expect(polled.members).toEqual([
      { agentId: 'alice', lastSeenAt: new Date(T0 + 20_000).toISOString() },
      { agentId: 'bob', lastSeenAt: new Date(T0 + 10_000).toISOString() },
    ]);
    expect((await relay.poll(sessionId, 'alice')).members).toBeUndefined();
    expect((await relay.poll(sessionId, 'alice', '?members=false')).members).toBeUndefined();
  });

  it('pages with limit', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    for (let i = 1; i <= 5; i++) await relay.send(sessionId, 'alice', { text: `m${i}` }, key);
    const page1 = await relay.poll(sessionId, 'alice', '?limit=2');
    expect(page1.messages.map((m) => m.cursor)).toEqual(['1', '2']);
    expect(page1.nextCursor).toBe('2');
    const page2 = await relay.poll(sessionId, 'alice', `?after=${page1.nextCursor}&limit=2`);
    expect(page2.messages.map((m) => m.cursor)).toEqual(['3', '4']);
    const page3 = await relay.poll(sessionId, 'alice', `?after=${page2.nextCursor}&limit=2`);
    expect(page3.messages.map((m) => m.cursor)).toEqual(['5']);
    expect(page3.nextCursor).toBe('5');
  });

  it('validates its query and membership', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice');
    const poll = (query: string, agentId = 'alice') =>
      relay.call('GET', `/v1/sessions/${sessionId}/messages${query}`, { agentId });
    for (const query of [
      '?after=abc',
      '?after=-1',
      '?after=01',
      '?limit=0',
      '?limit=1001',
      '?limit=x',
      '?members=maybe',
      '?waitMs=-5',
      '?waitMs=soon',
    ]) {
      const error = expectError(await poll(query), 400, 'invalid_request');
      expect(error.details).toHaveLength(1);
    }
    expectError(await poll('', 'mallory'), 403, 'agent_not_in_session');
    expectError(
      await relay.call('GET', `/v1/sessions/${sessionId}/messages`),
      400,
      'missing_agent_id',
    );
  });

  it('holds at most MAX_MESSAGES_PER_SESSION, dropping the oldest', async () => {
    await start({ maxMessagesPerSession: 3 });
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    for (let i = 1; i <= 5; i++) await relay.send(sessionId, 'alice', { text: `m${i}` }, key);
    const polled = await relay.poll(sessionId, 'alice');
    expect(polled.messages.map((m) => m.text)).toEqual(['m3', 'm4', 'm5']);
    expect(
      (await relay.poll(sessionId, 'alice', '?after=1')).messages.map((m) => m.cursor),
    ).toEqual(['3', '4', '5']);
    expect((await relay.stats()).totalMessages).toBe(3);
    // Past many sends too (a store may delete the older messages in batches).
    for (let i = 6; i <= 150; i++) await relay.send(sessionId, 'alice', { text: `m${i}` }, key);
    expect((await relay.poll(sessionId, 'alice')).messages.map((m) => m.text)).toEqual([
      'm148',
      'm149',
      'm150',
    ]);
    expect((await relay.stats()).totalMessages).toBe(3);
  });

  it('drops messages once they expire', async () => {
    const clock = new FakeClock();
    await start({}, clock);
    const { sessionId, key } = await relay.sessionWithCreator('alice', { ttl: 120 });
    await relay.send(sessionId, 'alice', { text: 'old' }, key);
    clock.advanceSeconds(100);
    await relay.send(sessionId, 'alice', { text: 'new' }, key);
    clock.advanceSeconds(20);
    const polled = await relay.poll(sessionId, 'alice');
    expect(polled.messages.map((m) => m.text)).toEqual(['new']);
  });

  it('serves a poll over many held messages', async () => {
    await start({ maxMessagesPerSession: 2000 });
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    await Promise.all(
      Array.from({ length: 1200 }, (_, i) =>
        relay.send(sessionId, 'alice', { text: `m${i}` }, key),
      ),
    );
    const tail = await relay.poll(sessionId, 'alice', '?after=1190');
    expect(tail.messages.map((m) => m.cursor)).toEqual(
      Array.from({ length: 10 }, (_, i) => String(1191 + i)),
    );
    const middle = await relay.poll(sessionId, 'alice', '?after=600&limit=3');
    expect(middle.messages.map((m) => m.cursor)).toEqual(['601', '602', '603']);
    const head = await relay.poll(sessionId, 'alice');
    expect(head.messages).toHaveLength(200);
    expect(head.nextCursor).toBe('200');
  });
});

describeEachStore('concurrency', () => {
  it('gives 20 parallel senders × 20 messages 400 distinct, gapless cursors', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice', { maxAgents: 21 });
    const agents = Array.from({ length: 20 }, (_, i) => `agent-${i}`);
    const keys = new Map<string, string>();
    for (const agent of agents) keys.set(agent, (await relay.join(sessionId, agent)).sessionKey);

    const sends = await Promise.all(
      agents.map(async (agent) => {
        const cursors: string[] = [];
        for (let i = 0; i < 20; i++) {
          const sent = await relay.send(
            sessionId,
            agent,
            { text: `${agent}:${i}` },
            keys.get(agent),
          );
          cursors.push(sent.cursor);
        }
        return cursors;
      }),
    );
    const all = sends
      .flat()
      .map(Number)
      .sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));

    const polled = expectOk(
      await relay.call('GET', `/v1/sessions/${sessionId}/messages?limit=1000`, {
        agentId: 'alice',
      }),
      200,
      PollResponse,
    );
    expect(polled.messages.map((m) => m.cursor)).toEqual(all.map(String));
    for (const agent of agents) {
      const own = polled.messages.filter((m) => m.agentId === agent).map((m) => m.text);
      expect(own).toEqual(Array.from({ length: 20 }, (_, i) => `${agent}:${i}`));
    }
  });
});
