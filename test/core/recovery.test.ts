/**
 * No dead ends: against the real relay with AGENT_INACTIVITY_SECONDS (its clock moved by the
 * test), a membership lost to inactivity or to a refused key is rejoined once, the call retried,
 * the rejoin reported, and what was sent in the gap delivered; failures to rejoin say why.
 */
import { describe, expect, it } from 'vitest';
import { freshId } from '../../src/core/recovery.js';
import { cleanup } from '../helpers/cleanup.js';
import { failure, makeCore } from '../helpers/core.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { json, startFaultyServer } from '../helpers/faulty-server.js';
import { useRelay } from '../helpers/relay.js';
import { storedSession } from '../helpers/stored-session.js';

const INACTIVITY = 3;

describe('recovery of lost memberships', async () => {
  const clock = new FakeClock();
  const relay = await useRelay({ clock, agentInactivitySeconds: INACTIVITY });

  /** alice creates "chat", bob joins it; both have read everything. */
  async function pair(options: { maxAgents?: number; autoRejoin?: boolean } = {}) {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create({
      alias: 'chat',
      greeting: 'hello',
      ...(options.maxAgents !== undefined && { maxAgents: options.maxAgents }),
    });
    const bob = makeCore(relay.url, {
      agentId: 'bob',
      ...(options.autoRejoin !== undefined && { autoRejoin: options.autoRejoin }),
    });
    await bob.manager.join({ sessionId: created.session.sessionId, alias: 'chat' });
    await bob.manager.poll('chat');
    return { alice, bob, sessionId: created.session.sessionId };
  }

  /** Lets bob go idle past the limit; alice's next call makes the relay remove him. */
  async function removeBob(alice: Awaited<ReturnType<typeof pair>>['alice'], text: string) {
    clock.advanceSeconds(INACTIVITY + 1);
    await alice.manager.send('chat', { text });
  }

  it('rejoins a removed agent on poll, under the same id, and delivers the gap', async () => {
    const { alice, bob, sessionId } = await pair();
    await removeBob(alice, 'sent while bob was removed');
    expect((await alice.manager.status('chat')).members).toEqual(['alice']);

    const polled = await bob.manager.poll('chat');
    expect(polled.rejoined).toEqual({
      agentId: 'bob',
      previousAgentId: 'bob',
      reason: 'agent_not_in_session',
    });
    expect(polled.messages.map((message) => message.text)).toEqual(['sent while bob was removed']);
    expect(bob.store.get(sessionId)?.agentId).toBe('bob');
    // Said once: the next call carries no rejoin.
    expect((await bob.manager.poll('chat')).rejoined).toBeUndefined();
    expect(bob.lines.some((line) => line.message.includes('Rejoined session chat as bob'))).toBe(
      true,
    );
  });

  it('rejoins on send (the relay answers forbidden) and the message goes out verified', async () => {
    const { alice, bob } = await pair();
    await removeBob(alice, 'gap');
    const sent = await bob.manager.send('chat', { text: 'back again' });
    expect(sent).toMatchObject({ verified: true, rejoined: { agentId: 'bob' } });
    const read = await alice.manager.poll('chat');
    expect(read.messages.map((message) => [message.from, message.text])).toEqual([
      ['bob', 'back again'],
    ]);
    // bob's next read still brings the gap message: the read position was kept.
    expect(
      (await bob.manager.poll('chat')).messages.map((message) => [message.text, message.own]),
    ).toEqual([
      ['gap', false],
      ['back again', true],
    ]);
  });

  it('rejoins on renew (the relay answers forbidden)', async () => {
    const { alice, bob } = await pair();
    await removeBob(alice, 'gap');
    const renewed = await bob.manager.renew('chat', 600);
    expect(renewed).toMatchObject({ ttl: 600, rejoined: { reason: 'agent_not_in_session' } });
    expect((await alice.manager.status('chat')).members).toEqual(['alice', 'bob']);
  });

  it('rejoins inside a wait and hands over what was sent in the gap', async () => {
    const { alice, bob } = await pair();
    await removeBob(alice, 'while you were away');
    const waited = await bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 10_000 });
    expect(waited.results[0]?.messages.map((message) => message.text)).toEqual([
      'while you were away',
    ]);
    expect(waited.results[0]?.rejoined?.reason).toBe('agent_not_in_session');
  });

  it('rejoins under a derived fresh id when the relay refuses the key and the id is still held', async () => {
    const { alice, bob, sessionId } = await pair();
    bob.store.patch(sessionId, { sessionKey: 'f'.repeat(64) });
    const sent = await bob.manager.send('chat', { text: 'with a fresh id' });
    expect(sent.rejoined).toEqual({
      agentId: 'bob-2',
      previousAgentId: 'bob',
      reason: 'invalid_session_key',
    });
    expect(sent.session.agentId).toBe('bob-2');
    expect(bob.store.get(sessionId)?.agentId).toBe('bob-2');
    const read = await alice.manager.poll('chat');
    expect(read.messages.map((message) => [message.from, message.verified])).toEqual([
      ['bob-2', true],
    ]);
  });

  it('derives ids past those taken', () => {
    expect(freshId('bob', ['bob'])).toBe('bob-2');
    expect(freshId('bob', ['bob', 'bob-2'])).toBe('bob-3');
    expect(freshId('bob-2', ['bob-2'])).toBe('bob-3');
    expect(freshId('x'.repeat(128), []).length).toBe(128);
  });

  it('says exactly why when the rejoin fails: the session is full', async () => {
    const { alice, bob } = await pair({ maxAgents: 2 });
    await removeBob(alice, 'gap');
    const carol = makeCore(relay.url, { agentId: 'carol' });
    await carol.manager.join({ sessionId: alice.manager.info('chat').sessionId });
    const error = await failure(bob.manager.poll('chat'));
    expect(error.code).toBe('session_full');
    expect(error.message).toMatch(
      /removed from session chat.*rejoining failed: the session is full/,
    );
    expect(error.hint).toMatch(/make room|new session/);
  });

  it('says so when the relay lets only the creator add agents', async () => {
    // A relay of that kind: bob is no longer listed, and joining is refused.
    const creatorOnly = await startFaultyServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path.endsWith('/join')) json(res, 403, { error: 'forbidden', message: 'creators only' });
      else if (path.endsWith('/messages'))
        json(res, 403, { error: 'agent_not_in_session', message: 'not a member' });
      else if (path.startsWith('/v1/sessions/'))
        json(res, 200, {
          sessionId: 'c'.repeat(48),
          state: 'active',
          agents: ['alice'],
          ttl: 3660,
          maxAgents: 50,
          creatorAgentId: 'alice',
        });
      else json(res, 404, { error: 'not_found', message: 'no' });
    });
    cleanup(() => creatorOnly.close());
    const bob = makeCore(creatorOnly.url, { agentId: 'bob' });
    bob.store.put(
      storedSession('c'.repeat(48), { server: creatorOnly.url, agentId: 'bob', alias: 'guarded' }),
    );
    const error = await failure(bob.manager.poll('guarded'));
    expect(error.code).toBe('forbidden');
    expect(error.message).toBe(
      'This agent (bob) was removed from session guarded, probably for inactivity, and rejoining failed: the relay lets only the creator add agents.',
    );
    expect(error.hint).toBe('Ask the creator of the session for a new pairing code or link.');
  });

  it('says so when the session is gone, and marks it expired', async () => {
    const { alice, bob } = await pair();
    clock.advanceSeconds(3661);
    const error = await failure(bob.manager.send('chat', { text: 'anyone?' }));
    expect(error.code).toBe('session_not_found');
    expect(bob.manager.info('chat').expired).toBe(true);
    await failure(alice.manager.poll('chat'));
  });

  it('leaves recovery to the caller with NEXUS_AUTO_REJOIN=0', async () => {
    const { alice, bob } = await pair({ autoRejoin: false });
    await removeBob(alice, 'gap');
    expect((await failure(bob.manager.poll('chat'))).code).toBe('agent_not_in_session');
    // join_session by alias brings it back, keeping the read position.
    const joined = await bob.manager.join({ sessionId: 'chat' });
    expect(joined).toMatchObject({
      alreadyJoined: false,
      rejoined: { agentId: 'bob', reason: 'requested' },
    });
    expect((await bob.manager.poll('chat')).messages.map((message) => message.text)).toEqual([
      'gap',
    ]);
  });

  it('join_session takes an alias, a short id or a prefix; a live membership is left alone', async () => {
    const { bob, sessionId } = await pair();
    expect((await bob.manager.join({ sessionId: 'chat' })).alreadyJoined).toBe(true);
    expect((await bob.manager.join({ sessionId: sessionId.slice(0, 12) })).alreadyJoined).toBe(
      true,
    );
    expect((await bob.manager.join({ sessionId: sessionId.slice(0, 8) })).alreadyJoined).toBe(true);
    const unknown = await failure(bob.manager.join({ sessionId: 'nosuch' }));
    expect(unknown.code).toBe('invalid_argument');
    expect(unknown.message).toContain('list_sessions');
  });

  it('join_session with another agent_id replaces the membership and leaves the old one', async () => {
    const { alice, bob, sessionId } = await pair();
    const joined = await bob.manager.join({ sessionId: 'chat', agentId: 'robert' });
    expect(joined).toMatchObject({ replaced: 'bob', session: { agentId: 'robert' } });
    expect(bob.store.get(sessionId)?.agentId).toBe('robert');
    expect((await alice.manager.status('chat')).members).toEqual(['alice', 'robert']);
  });

  it('lets a creator forget a session locally; leaving says how', async () => {
    const { alice, sessionId } = await pair();
    const refused = await failure(alice.manager.leave('chat'));
    expect(refused.code).toBe('creator_cannot_leave');
    expect(refused.hint).toContain('forget: true');
    expect(refused.hint).toContain('renew_session');
    const forgotten = await alice.manager.leave('chat', { forget: true });
    expect(forgotten.outcome).toBe('forgotten');
    expect(alice.manager.sessions()).toEqual([]);
    // The relay was not asked: the session lives on, and its status is public by full id.
    const status = await alice.manager.status(sessionId);
    expect(status).toMatchObject({ members: ['alice', 'bob'], joined: false });
    expect(status.session).toBeUndefined();
    expect(status.label).toBe(sessionId.slice(0, 12));
    const pairing = await alice.manager.pair(sessionId);
    expect(pairing.code).toMatch(/^[A-Z]+-[A-Z]+-[A-Z2-7]{5}$/);
    expect(pairing.session).toBeUndefined();
  });
});
