import { expect, it, vi } from 'vitest';
import { HealthResponse } from '../../src/protocol/index.js';
import type { RelayOptions } from '../../src/relay/index.js';
import { expectError, expectOk, FakeClock, TestRelay } from './helpers.js';
import { describeEachStore } from './stores.js';

let relay: TestRelay;
const start = async (options: RelayOptions = {}, clock = new FakeClock()) => {
  relay = await TestRelay.use(options, clock);
  return relay;
};

/** Waits (bounded) until the relay holds `count` long-polls, as its stats report them. */
async function pendingLongPolls(count: number): Promise<void> {
  await vi.waitFor(
    async () => {
      expect((await relay.stats()).pendingLongPolls).toBe(count);
    },
    { timeout: 10_000, interval: 5 },
  );
}

describeEachStore('long-poll', () => {
  it('wakes a held poll on the next message', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    await relay.join(sessionId, 'bob');
    const held = relay.poll(sessionId, 'bob', '?after=0&waitMs=20000');
    await pendingLongPolls(1);
    const sent = await relay.send(sessionId, 'alice', { text: 'wake up' }, key);
    const polled = await held;
    expect(polled.messages.map((m) => [m.cursor, m.text, m.agentId])).toEqual([
      ['1', 'wake up', 'alice'],
    ]);
    expect(polled.nextCursor).toBe(sent.cursor);
    await pendingLongPolls(0);
  });

  it('wakes a poll without after on any message', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const held = relay.poll(sessionId, 'alice', '?waitMs=20000&members=true');
    await pendingLongPolls(1);
    await relay.send(sessionId, 'alice', { text: 'any' }, key);
    const polled = await held;
    expect(polled.messages.map((m) => m.text)).toEqual(['any']);
    expect(polled.members?.map((m) => m.agentId)).toEqual(['alice']);
  });

  it('keeps waiting through messages at or before its cursor', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    const held = relay.poll(sessionId, 'alice', '?after=2&waitMs=20000');
    await pendingLongPolls(1);
    await relay.send(sessionId, 'alice', { text: 'one' }, key);
    await relay.send(sessionId, 'alice', { text: 'two' }, key);
    expect((await relay.stats()).pendingLongPolls).toBe(1);
    await relay.send(sessionId, 'alice', { text: 'three' }, key);
    expect((await held).messages.map((m) => m.text)).toEqual(['three']);
  });

  it('answers at once when messages are already there', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    await relay.send(sessionId, 'alice', { text: 'ready' }, key);
    const polled = await relay.poll(sessionId, 'alice', '?after=0&waitMs=30000');
    expect(polled.messages.map((m) => m.text)).toEqual(['ready']);
  }, 10_000);

  it('answers empty when the wait runs out', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice');
    expect(await relay.poll(sessionId, 'alice', '?after=0&waitMs=30')).toEqual({
      messages: [],
      nextCursor: '0',
    });
    await pendingLongPolls(0);
  });

  it('answers errors before waiting', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice');
    expectError(
      await relay.call('GET', `/v1/sessions/${sessionId}/messages?waitMs=30000`, {
        agentId: 'mallory',
      }),
      403,
      'agent_not_in_session',
    );
    expectError(
      await relay.call('GET', `/v1/sessions/${'c'.repeat(48)}/messages?waitMs=30000`, {
        agentId: 'alice',
      }),
      404,
      'session_not_found',
    );
    expect((await relay.stats()).pendingLongPolls).toBe(0);
  }, 10_000);

  it('frees the waiter when the client disconnects', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice');
    const controller = new AbortController();
    const held = relay.call('GET', `/v1/sessions/${sessionId}/messages?after=0&waitMs=30000`, {
      agentId: 'alice',
      signal: controller.signal,
    });
    await pendingLongPolls(1);
    controller.abort();
    await expect(held).rejects.toThrow();
    await pendingLongPolls(0);
  });

  it('fans one message out to 50 waiters', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice', { maxAgents: 50 });
    const agents = Array.from({ length: 49 }, (_, i) => `waiter-${i}`);
    for (const agent of agents) await relay.join(sessionId, agent);
    const held = [...agents, 'alice'].map((agent) =>
      relay.poll(sessionId, agent, '?after=0&waitMs=20000'),
    );
    await pendingLongPolls(50);
    await relay.send(sessionId, 'alice', { text: 'to everyone' }, key);
    const results = await Promise.all(held);
    expect(results).toHaveLength(50);
    for (const result of results) {
      expect(result.messages.map((m) => m.text)).toEqual(['to everyone']);
    }
    await pendingLongPolls(0);
  });

  it('answers held polls empty when the relay shuts down', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice');
    const held = relay.poll(sessionId, 'alice', '?after=0&waitMs=30000');
    await pendingLongPolls(1);
    await relay.close();
    expect(await held).toEqual({ messages: [], nextCursor: '0' });
  }, 10_000);

  it('answers at once and says so in /health when switched off', async () => {
    await start({ longPoll: false });
    const health = expectOk(await relay.call('GET', '/health'), 200, HealthResponse);
    expect(health.capabilities.longPoll).toBe(false);
    const { sessionId } = await relay.sessionWithCreator('alice');
    expect(await relay.poll(sessionId, 'alice', '?after=0&waitMs=30000')).toEqual({
      messages: [],
      nextCursor: '0',
    });
  }, 10_000);
});
