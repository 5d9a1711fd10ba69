import { afterEach, expect, it } from 'vitest';
import { HealthResponse, StatsResponse } from '../../src/protocol/index.js';
import { VERSION } from '../../src/version.js';
import { expectError, expectOk, FakeClock, TestRelay } from './helpers.js';
import { describeEachStore } from './stores.js';

let relay: TestRelay;
afterEach(async () => {
  await relay?.close();
});

describeEachStore('health and stats', () => {
  it('reports version, uptime and capabilities', async () => {
    const clock = new FakeClock();
    relay = await TestRelay.start({}, clock);
    clock.advanceSeconds(42);
    const reply = await relay.call('GET', '/health');
    const health = expectOk(reply, 200, HealthResponse);
    expect(reply.body).toEqual({
      status: 'ok',
      version: VERSION,
      uptime: 42,
      capabilities: { messageFormat: ['text', 'json'], longPoll: true },
    });
    expect(health.capabilities.messageFormat).toEqual(['text', 'json']);
  });

  it('counts live sessions, agents and held messages', async () => {
    const clock = new FakeClock();
    relay = await TestRelay.start({}, clock);
    expect(expectOk(await relay.call('GET', '/v1/stats'), 200, StatsResponse)).toEqual({
      activeSessions: 0,
      totalAgents: 0,
      totalMessages: 0,
      uptime: 0,
    });
    const a = await relay.sessionWithCreator('alice');
    await relay.join(a.sessionId, 'bob');
    const b = await relay.sessionWithCreator('carol');
    await relay.createSession();
    await relay.send(a.sessionId, 'alice', { text: '1' }, a.key);
    await relay.send(a.sessionId, 'bob', { text: '2' });
    await relay.send(b.sessionId, 'carol', { text: '3' }, b.key);
    clock.advanceSeconds(7);
    const reply = await relay.call('GET', '/v1/stats');
    expect(expectOk(reply, 200, StatsResponse)).toEqual({
      activeSessions: 3,
      totalAgents: 3,
      totalMessages: 3,
      uptime: 7,
    });
    expect(reply.body).toMatchObject({ pendingLongPolls: 0 });
  });
});

describeEachStore('every response', () => {
  it('carries a fresh X-Request-Id, success or error', async () => {
    relay = await TestRelay.start();
    const replies = [
      await relay.call('GET', '/health'),
      await relay.call('GET', '/v1/stats'),
      await relay.call('PUT', '/v1/sessions', { json: {} }),
      await relay.call('PUT', '/v1/sessions', { raw: 'not json' }),
      await relay.call('GET', '/nowhere'),
      await relay.call('GET', '/p/ABC-DEF-GHIJK'),
    ];
    const ids = replies.map((reply) => reply.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(replies.length);
  });

  it('answers unknown routes and methods with not_found', async () => {
    relay = await TestRelay.start();
    expectError(await relay.call('GET', '/v2/sessions'), 404, 'not_found');
    expectError(await relay.call('POST', '/health'), 404, 'not_found');
    expectError(await relay.call('GET', '/v1/pair'), 404, 'not_found');
    const body = expectError(await relay.call('PATCH', '/v1/sessions'), 404, 'not_found');
    expect(body.message).toContain('PATCH /v1/sessions');
  });

  it('logs nothing during normal operation', async () => {
    relay = await TestRelay.start();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    await relay.send(sessionId, 'alice', { text: 'hello' }, key);
    await relay.poll(sessionId, 'alice');
    await relay.call('GET', '/nope');
    expect(relay.logs).toEqual([]);
  });
});
