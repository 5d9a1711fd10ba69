import { once } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { NexusError, type SessionInfo } from '../../src/core/index.js';
import { makeCore, storedSession } from '../helpers/core.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { startFaultyServer } from '../helpers/faulty-server.js';
import { useRelay } from '../helpers/relay.js';
import { useTextOnlyProxy } from '../helpers/text-only-proxy.js';

async function pair(url: string) {
  const alice = makeCore(url, { agentId: 'alice' });
  const bob = makeCore(url, { agentId: 'bob' });
  const { session } = await alice.manager.create({ alias: 'chat' });
  await bob.manager.join({ sessionId: session.sessionId, alias: 'chat' });
  return { alice, bob, id: session.sessionId };
}

/** Resolves once the watcher runs a loop; a send from then on lands in (or before) its poll. */
async function watching(core: ReturnType<typeof makeCore>): Promise<void> {
  await vi.waitFor(() => expect(core.watcher.activeLoops()).toBeGreaterThan(0), { interval: 1 });
}

describe('watcher', async () => {
  const relay = await useRelay();

  it('returns as soon as another agent writes, handing the message over', async () => {
    const { alice, bob } = await pair(relay.url);
    const waiting = bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 20_000 });
    await watching(bob);
    await alice.manager.send('chat', { text: 'ping' });
    const result = await waiting;
    expect(result.timedOut).toBe(false);
    expect(result.results[0]?.messages.map((m) => [m.from, m.text, m.verified])).toEqual([
      ['alice', 'ping', true],
    ]);
    expect(bob.manager.info('chat').cursor).toBe('1');
  });

  it('times out with nothing and moves no cursor', async () => {
    const { bob } = await pair(relay.url);
    const result = await bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 300 });
    expect(result).toMatchObject({ timedOut: true, results: [] });
    expect(bob.manager.info('chat').cursor).toBe('0');
  });

  it('is not woken by its own messages', async () => {
    const { alice, bob } = await pair(relay.url);
    // Bob's own sends move his cursor past themselves; only alice's reply may wake him.
    await alice.manager.send('chat', { text: 'first' });
    await bob.manager.poll('chat');
    await bob.manager.send('chat', { text: 'mine' });
    const waiting = bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 20_000 });
    await watching(bob);
    await bob.manager.send('chat', { text: 'mine again' });
    await alice.manager.send('chat', { text: 'reply' });
    const result = await waiting;
    expect(result.results[0]?.messages.map((m) => [m.text, m.own])).toEqual([['reply', false]]);
  });

  it('skips a batch of only its own messages even when it fell behind them', async () => {
    const { alice, bob } = await pair(relay.url);
    await alice.manager.send('chat', { text: 'a1' });
    await bob.manager.send('chat', { text: 'b1' });
    bob.store.update((data) => {
      const session = Object.values(data.sessions)[0];
      if (session) session.cursor = '1';
    });
    const waiting = bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 20_000 });
    // The wait steps past b1 by itself, without returning.
    await vi.waitFor(() => expect(bob.manager.info('chat').cursor).toBe('2'), { interval: 1 });
    await alice.manager.send('chat', { text: 'a2' });
    const result = await waiting;
    expect(result.results[0]?.messages.map((m) => m.text)).toEqual(['a2']);
  });

  it('stops at once on abort, rejecting with aborted, and moves no cursor', async () => {
    const { alice, bob } = await pair(relay.url);
    const controller = new AbortController();
    const waiting = bob.watcher.waitForMessages({
      sessions: ['chat'],
      timeoutMs: 20_000,
      signal: controller.signal,
    });
    await watching(bob);
    controller.abort();
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NexusError);
    expect((error as NexusError).code).toBe('aborted');
    await alice.manager.send('chat', { text: 'after the abort' });
    expect(bob.manager.info('chat').cursor).toBe('0');
    expect((await bob.manager.poll('chat')).messages.map((m) => m.text)).toEqual([
      'after the abort',
    ]);
  });

  it('stops polling when nobody waits or subscribes', async () => {
    const { bob } = await pair(relay.url);
    await bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 100 });
    await vi.waitFor(() => expect(bob.watcher.activeLoops()).toBe(0), { interval: 1 });
    bob.watcher.subscribe(bob.manager.resolve('chat').sessionId);
    expect(bob.watcher.activeLoops()).toBe(1);
    bob.watcher.unsubscribe(bob.manager.resolve('chat').sessionId);
    await vi.waitFor(() => expect(bob.watcher.activeLoops()).toBe(0), { interval: 1 });
  });

  it('tells subscribers about new messages without consuming them', async () => {
    const { alice, bob, id } = await pair(relay.url);
    const updated = once(bob.watcher.events, 'updated') as Promise<[SessionInfo]>;
    bob.watcher.subscribe(id);
    await watching(bob);
    await alice.manager.send('chat', { text: 'news' });
    const [session] = await updated;
    expect(session.label).toBe('chat');
    expect(bob.manager.info('chat').cursor).toBe('0');
    bob.watcher.unsubscribe(id);
  });

  it('waits on every session when none is named, and returns the one that spoke', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const bob = makeCore(relay.url, { agentId: 'bob' });
    for (const alias of ['s1', 's2', 's3']) {
      const { session } = await alice.manager.create({ alias });
      await bob.manager.join({ sessionId: session.sessionId, alias });
    }
    const waiting = bob.watcher.waitForMessages({ timeoutMs: 20_000 });
    await vi.waitFor(() => expect(bob.watcher.activeLoops()).toBe(3), { interval: 1 });
    await alice.manager.send('s2', { text: 'on two' });
    const result = await waiting;
    expect(result.results.map((r) => [r.session.label, r.messages.map((m) => m.text)])).toEqual([
      ['s2', ['on two']],
    ]);
  });

  it('reports an expired session to its waiter instead of polling forever', async () => {
    const relayClock = new FakeClock();
    const mortal = await useRelay({ clock: relayClock });
    const { bob } = await pair(mortal.url);
    relayClock.advance(4_000_000);
    const error = await bob.watcher
      .waitForMessages({ sessions: ['chat'], timeoutMs: 20_000 })
      .catch((e: unknown) => e);
    expect((error as NexusError).code).toBe('session_not_found');
    expect(bob.manager.info('chat').expired).toBe(true);
  });

  it('rides out a relay that went away until the time limit, then reports it to the waiter', async () => {
    const doomed = await useRelay();
    const { bob } = await pair(doomed.url);
    // It answered before, so losing it looks like a restart: the wait keeps trying.
    const waiting = bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 1_500 });
    await watching(bob);
    await doomed.close();
    const waited = await waiting;
    expect(waited).toMatchObject({ results: [], timedOut: false, allFailed: true });
    expect(['network_error', 'timeout']).toContain(waited.errors[0]?.error.code);
    expect(
      bob.lines.some((line) => line.level === 'warning' && line.message.includes('unreachable')),
    ).toBe(true);
  });

  it('polls on an interval where the relay has no long-poll', async () => {
    const proxy = await useTextOnlyProxy(relay.url);
    const { alice, bob } = await pair(proxy.url);
    const waiting = bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 20_000 });
    await watching(bob);
    await alice.manager.send('chat', { text: 'slowly' });
    const result = await waiting;
    expect(result.results[0]?.messages.map((m) => m.text)).toEqual(['slowly']);
    // No request the watcher made asked the relay to hold it.
    expect(proxy.requests.some((request) => request.url.includes('/messages'))).toBe(true);
    expect(proxy.requests.some((request) => request.url.includes('waitMs'))).toBe(false);
  });

  it('honours Retry-After from a rate-limiting relay while waiting', async () => {
    let served = 0;
    const limited = await startFaultyServer((req, res) => {
      if (req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"capabilities":{"messageFormat":["text"],"longPoll":false}}');
        return;
      }
      served++;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end('{"error":"rate_limit_exceeded","message":"slow down"}');
    });
    const core = makeCore(limited.url, { agentId: 'bob' });
    core.store.put(storedSession({ sessionId: 'b'.repeat(48), server: limited.url }));
    const result = await core.watcher.waitForMessages({ timeoutMs: 400 });
    // It kept trying (honouring Retry-After) and says the session was failing, not quiet.
    expect(result).toMatchObject({ timedOut: false, allFailed: true });
    expect(result.errors.map((error) => error.error.code)).toEqual(['rate_limit_exceeded']);
    expect(served).toBeGreaterThan(1);
    expect(core.lines.some((line) => line.message.includes('rate limiting'))).toBe(true);
    await limited.close();
  });
});
