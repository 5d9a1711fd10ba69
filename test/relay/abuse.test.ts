import { expect, it } from 'vitest';
import { PollResponse } from '../../src/protocol/index.js';
import { expectError, expectOk, FakeClock, TestRelay } from './helpers.js';
import { describeEachStore } from './stores.js';

function nested(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describeEachStore('bounded under abuse', () => {
  it('refuses json deeper than 64 levels with 400 invalid_body, and logs nothing', async () => {
    const relay = await TestRelay.use();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const path = `/v1/sessions/${sessionId}/messages`;
    const call = (json: unknown) =>
      relay.call('POST', path, { agentId: 'alice', sessionKey: key, json: { json } });
    expect((await call(nested(64))).status).toBe(201);
    expectError(await call(nested(65)), 400, 'invalid_body');
    // What overflowed the stack before: thousands of nested arrays within the size limit.
    expectError(
      await relay.call('POST', path, {
        agentId: 'alice',
        raw: `{"json":${'['.repeat(16_000)}${']'.repeat(16_000)}}`,
      }),
      400,
      'invalid_body',
    );
    expect(relay.logs).toEqual([]);
    const polled = await relay.poll(sessionId, 'alice', '?after=0');
    expect(polled.messages).toHaveLength(1);
    expect(polled.messages[0]?.json).toEqual(nested(64));
  });

  it('refuses json with more than 10,000 values with 400 invalid_body', async () => {
    const relay = await TestRelay.use();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const path = `/v1/sessions/${sessionId}/messages`;
    const call = (json: unknown) =>
      relay.call('POST', path, { agentId: 'alice', sessionKey: key, json: { json } });
    // The array itself is one value: 9,999 elements make 10,000.
    expect((await call(new Array(9_999).fill(0))).status).toBe(201);
    expectError(await call(new Array(10_000).fill(0)), 400, 'invalid_body');
    expectError(await call(new Array(10_000).fill({})), 400, 'invalid_body');
  });

  it('returns json exactly as sent (kept as its text, not re-shaped)', async () => {
    const relay = await TestRelay.use();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const json = { a: [1, 2.5, 'three', null, true], b: { 'ü ✓': '\u2028' }, c: [] };
    await relay.send(sessionId, 'alice', { json }, key);
    const reply = await relay.call('GET', `/v1/sessions/${sessionId}/messages?after=0`, {
      agentId: 'alice',
    });
    expect(reply.text).toContain(JSON.stringify(json));
    expect(expectOk(reply, 200, PollResponse).messages[0]?.json).toEqual(json);
  });

  it('caps a poll response at 1 MiB: fewer messages and hasMore, the rest on the next poll', async () => {
    const relay = await TestRelay.use();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const text = 'x'.repeat(30_000);
    for (let i = 0; i < 40; i++) await relay.send(sessionId, 'alice', { text }, key);
    const path = `/v1/sessions/${sessionId}/messages?limit=1000&after=`;
    const first = await relay.call('GET', `${path}0`, { agentId: 'alice' });
    expect(Buffer.byteLength(first.text)).toBeLessThanOrEqual(1024 * 1024);
    const page = expectOk(first, 200, PollResponse);
    // hasMore is the relay's addition to the protocol's poll response (not in its schema).
    expect(first.body).toHaveProperty('hasMore', true);
    expect(page.messages.length).toBeGreaterThan(0);
    expect(page.messages.length).toBeLessThan(40);
    expect(page.nextCursor).toBe(String(page.messages.length));
    const rest = await relay.call('GET', `${path}${page.nextCursor}`, { agentId: 'alice' });
    const second = expectOk(rest, 200, PollResponse);
    expect(page.messages.length + second.messages.length).toBe(40);
    expect(rest.body).not.toHaveProperty('hasMore');
    expect(second.nextCursor).toBe('40');
  });

  it('says hasMore when a poll stops at its limit', async () => {
    const relay = await TestRelay.use();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    for (const text of ['a', 'b', 'c']) await relay.send(sessionId, 'alice', { text }, key);
    const poll = (query: string) =>
      relay.call('GET', `/v1/sessions/${sessionId}/messages${query}`, { agentId: 'alice' });
    const limited = await poll('?after=0&limit=2');
    expect(expectOk(limited, 200, PollResponse).messages.map((m) => m.text)).toEqual(['a', 'b']);
    expect(limited.body).toHaveProperty('hasMore', true);
    const all = await poll('?after=0&limit=3');
    expect(all.body).toMatchObject({ nextCursor: '3' });
    expect(all.body).not.toHaveProperty('hasMore');
  });

  it('caps live sessions per client address with 429, freeing a slot when one expires', async () => {
    const clock = new FakeClock();
    const relay = await TestRelay.use({ maxSessionsPerIp: 3 }, clock);
    await relay.createSession({ ttl: 60 });
    await relay.createSession({ ttl: 600 });
    await relay.createSession({ ttl: 600 });
    expectError(await relay.call('PUT', '/v1/sessions', { json: {} }), 429, 'rate_limit_exceeded');
    clock.advanceSeconds(61);
    expect((await relay.call('PUT', '/v1/sessions', { json: {} })).status).toBe(201);
    expectError(await relay.call('PUT', '/v1/sessions', { json: {} }), 429, 'rate_limit_exceeded');
  });

  it('with --trust-proxy counts the last X-Forwarded-For hop; without it ignores the header', async () => {
    const clock = new FakeClock();
    const behind = await TestRelay.use({ rateLimitPerMinute: 2, trustProxy: true }, clock);
    const from = (hops: string) => ({ headers: { 'X-Forwarded-For': hops } });
    expect((await behind.call('GET', '/v1/stats', from('1.1.1.1, 10.0.0.1'))).status).toBe(200);
    // The client wrote the first hop itself: changing it buys nothing.
    expect((await behind.call('GET', '/v1/stats', from('2.2.2.2, 10.0.0.1'))).status).toBe(200);
    expectError(
      await behind.call('GET', '/v1/stats', from('3.3.3.3, 10.0.0.1')),
      429,
      'rate_limit_exceeded',
    );
    expect((await behind.call('GET', '/v1/stats', from('10.0.0.2'))).status).toBe(200);

    const direct = await TestRelay.use({ rateLimitPerMinute: 2 }, clock);
    expect((await direct.call('GET', '/v1/stats', from('10.0.0.1'))).status).toBe(200);
    expect((await direct.call('GET', '/v1/stats', from('10.0.0.2'))).status).toBe(200);
    expectError(
      await direct.call('GET', '/v1/stats', from('10.0.0.3')),
      429,
      'rate_limit_exceeded',
    );
  });

  it('reserves the agent ids system, relay and nexus on join, claim and create', async () => {
    const relay = await TestRelay.use();
    const { sessionId } = await relay.sessionWithCreator('alice');
    for (const agentId of ['system', 'relay', 'nexus', 'System', 'NEXUS']) {
      expectError(
        await relay.call('POST', `/v1/sessions/${sessionId}/join`, { agentId }),
        400,
        'invalid_request',
      );
    }
    const paired = await relay.call('PUT', '/v1/pair', { json: { sessionId } });
    const code = (paired.body as { code: string }).code;
    expectError(
      await relay.call('POST', `/v1/pair/${code}/claim`, { agentId: 'relay' }),
      400,
      'invalid_request',
    );
    // The refused claim did not use the code up.
    expect((await relay.call('POST', `/v1/pair/${code}/claim`, { agentId: 'bob' })).status).toBe(
      200,
    );
    expectError(
      await relay.call('PUT', '/v1/sessions', { json: { creatorAgentId: 'system' } }),
      400,
      'invalid_request',
    );
    // Names that merely contain a reserved word are fine.
    expect((await relay.join(sessionId, 'system-bot')).status).toBe('joined');
  });
});
