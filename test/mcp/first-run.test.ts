/**
 * What a new user and their model read when things are not set up yet: errors that say how to
 * get out, refusals that name the field, the bound and the value, and words that fit the case.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/relay/index.js';
import { closedPort } from '../helpers/faulty-server.js';
import { type Harness, startServer, textOf } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';

describe('first run: texts that explain themselves', () => {
  let relay: RunningRelay;
  let alice: Harness;
  let bob: Harness;
  beforeAll(async () => {
    relay = await useRelay();
    alice = await startServer({ relayUrl: relay.url, agentId: 'alice' });
    bob = await startServer({ relayUrl: relay.url, agentId: 'bob' });
  });
  afterAll(async () => {
    await Promise.all([alice.close(), bob.close()]);
  });

  it('an unreachable relay names the cause and every way out', async () => {
    const nowhere = await startServer({
      relayUrl: `http://127.0.0.1:${await closedPort()}`,
      agentId: 'gina',
    });
    try {
      const text = await nowhere.fail('create_session', {});
      expect(text).toMatch(/^Error network_error: .*connection was refused.*\(ECONNREFUSED\)/);
      for (const way of [
        'NEXUS_URL',
        '--url',
        'nexus-messaging-mcp set-url',
        'nexus-messaging-mcp relay',
      ])
        expect(text).toContain(way);
    } finally {
      await nowhere.close();
    }
  });

  it("the relay's refusal names the field, the rule and the value, without request-id noise", async () => {
    const text = await alice.fail('create_session', { ttl_seconds: 10 });
    expect(text).toMatch(/^Error invalid_request: .*ttl must be at least 60.*sent ttl: 10/);
    expect(text).not.toMatch(/request id|x-request-id/i);
    expect(text).not.toContain('listed in details');
  });

  it.each([
    ['poll_messages', { limit: 0 }, 'limit must be at least 1 (got 0)'],
    ['create_session', { max_agents: 1 }, 'max_agents must be at least 2 (got 1)'],
    [
      'create_session',
      { ttl_seconds: 90.5 },
      'ttl_seconds must be a whole number of seconds (got 90.5)',
    ],
    ['wait_for_messages', { timeout_seconds: 0 }, 'timeout_seconds must be at least 1 (got 0)'],
  ])('%s refuses %j naming field, bound and value', async (tool, args, expected) => {
    const result = await alice.call(tool, args);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(expected);
  });

  it('names the field, the rule and the value in refusals the core makes', async () => {
    await alice.ok('create_session', { alias: 'checks', pair: false });
    expect(await alice.fail('poll_messages', { session: 'checks', after: 'x' })).toContain(
      'after must be a cursor, a whole number of at least 0 like 42 or "42" (got "x")',
    );
    expect(await alice.fail('poll_messages', { session: 'checks', after: 1.5 })).toContain(
      '(got "1.5")',
    );
    expect(await alice.fail('create_session', { agent_id: 'bad id!' })).toContain(
      'agent_id may hold only letters, digits, - and _, at most 128 characters (got "bad id!")',
    );
    expect(await alice.fail('set_session_alias', { session: 'checks', alias: '-dash' })).toContain(
      'starting with a letter or digit (got "-dash")',
    );
  });

  it('takes `after` as a number or a string, and says whose the replayed messages are', async () => {
    await alice.ok('create_session', { alias: 'solo', pair: false });
    await alice.ok('send_message', { session: 'solo', text: 'a note to self' });
    const asNumber = await alice.call('poll_messages', { session: 'solo', after: 0 });
    const asString = await alice.call('poll_messages', { session: 'solo', after: '0' });
    expect(asNumber.isError).toBeFalsy();
    expect(asNumber.structuredContent).toEqual(asString.structuredContent);
    expect(textOf(asNumber)).toContain('1 message(s), all sent by you (this agent).');
    expect(textOf(asNumber)).not.toContain('from other agents');
  });

  it('names both sides when a replay mixes them', async () => {
    const created = await alice.ok<{ pairing: { code: string } }>('create_session', {
      alias: 'mixed',
    });
    await bob.ok('claim_pairing_code', { code: created.pairing.code, alias: 'mixed' });
    await bob.ok('send_message', { session: 'mixed', text: 'hi alice' });
    await alice.ok('send_message', { session: 'mixed', text: 'hi bob' });
    const text = textOf(await alice.call('poll_messages', { session: 'mixed', after: 0 }));
    expect(text).toContain('2 message(s): 1 sent by you (marked "you"), 1 from other agents');
  });

  it('waits "on any session", and mentions the clamp only when the wait ran into it', async () => {
    // The replay above left "hi alice" unread: take it, so the wait below can only end on the
    // answer sent during it, and the idle wait after it finds nothing.
    await alice.ok('poll_messages', { session: 'mixed' });
    const early = alice.call('wait_for_messages', { session: 'mixed', timeout_seconds: 600 });
    await bob.ok('send_message', { session: 'mixed', text: 'quick answer' });
    const answered = await early;
    expect(answered.structuredContent).toMatchObject({ clamped: true, timed_out: false });
    expect(textOf(answered)).not.toContain('reduced');

    const idle = textOf(await alice.call('wait_for_messages', { timeout_seconds: 1 }));
    expect(idle).toContain('No new messages on any session within 1s.');
  });

  it('says "no local sessions" once the last one is left', async () => {
    const carol = await startServer({ relayUrl: relay.url, agentId: 'carol' });
    try {
      const again = await alice.ok<{ code: string }>('create_pairing_code', { session: 'mixed' });
      const joined = await carol.ok<{ session: { session: string } }>('claim_pairing_code', {
        code: again.code,
      });
      await carol.ok('leave_session', { session: joined.session.session });
      const text = textOf(await carol.call('list_sessions'));
      expect(text).toContain('No local sessions:');
      expect(text).not.toContain('yet');
    } finally {
      await carol.close();
    }
  });
});
