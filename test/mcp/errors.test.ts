import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../helpers/fake-clock.js';
import { closedPort } from '../helpers/faulty-server.js';
import {
  expectError,
  expectNoSecretsSeen,
  type Harness,
  startServer,
  textOf,
} from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';

function tamperStore(
  harness: Harness,
  edit: (session: { sessionKey: string; server: string }) => void,
): void {
  const file = join(harness.home, 'store.json');
  const data = JSON.parse(readFileSync(file, 'utf8')) as {
    sessions: Record<string, { sessionKey: string; server: string }>;
  };
  for (const session of Object.values(data.sessions)) edit(session);
  writeFileSync(file, JSON.stringify(data));
}

describe('MCP server: every failure is a clear tool error', async () => {
  const clock = new FakeClock();
  const relay = await useRelay({ clock, agentInactivitySeconds: 3_600, maxMessageBytes: 2_000 });
  const alice = await startServer({ relayUrl: relay.url, agentId: 'alice' });
  const bob = await startServer({ relayUrl: relay.url, agentId: 'bob' });
  const carol = await startServer({ relayUrl: relay.url, agentId: 'carol' });

  it('rejects invalid arguments naming the field', async () => {
    const result = await alice.call('create_session', { ttl_seconds: 'soon' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/ttl_seconds/);
    const missing = await alice.call('send_message', {});
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/session/);
  });

  it('answers unknown sessions, bad codes and empty messages with their codes', async () => {
    expectError(
      await alice.fail('send_message', { session: 'nowhere', text: 'x' }),
      'unknown_session',
    );
    expectError(
      await alice.fail('claim_pairing_code', { code: 'not a code at all!' }),
      'invalid_pairing_input',
    );
    expectError(
      await alice.fail('get_pairing_status', { code: 'NOPE-NOPE-AAAAA' }),
      'code_not_found',
    );
    await alice.ok('create_session', { alias: 'base', pair: false });
    expectError(await alice.fail('send_message', { session: 'base' }), 'invalid_argument');
    expectError(await alice.fail('poll_messages', { after: '3' }), 'invalid_argument');
    expectError(
      await alice.fail('set_session_alias', { session: 'base', alias: 'cafebabe12' }),
      'invalid_argument',
    );
    expectError(await alice.fail('join_session', { session_id: 'short' }), 'invalid_argument');
  });

  it("passes the relay's refusals on with their protocol codes and hints", async () => {
    expectError(await alice.fail('create_session', { ttl_seconds: 10 }), 'invalid_request');
    const small = await alice.ok<{ pairing: { code: string; link: string } }>('create_session', {
      alias: 'small',
      max_agents: 2,
    });
    await bob.ok('claim_pairing_code', { code: small.pairing.code, alias: 'small' });
    expectError(
      await carol.fail('claim_pairing_code', { code: small.pairing.code }),
      'code_expired_or_used',
    );
    const again = await alice.ok<{ code: string }>('create_pairing_code', { session: 'small' });
    const full = await carol.fail('claim_pairing_code', { code: again.code });
    expectError(full, 'session_full');
    expect(full).toMatch(/do not retry/);
    const taken = await alice.ok<{ code: string }>('create_pairing_code', { session: 'base' });
    expectError(
      await alice.fail('claim_pairing_code', { code: taken.code, agent_id: 'alice' }),
      'agent_id_taken',
    );
    expectError(
      await alice.fail('send_message', { session: 'small', text: 'x'.repeat(3_000) }),
      'message_too_large',
    );
    const creator = await alice.fail('leave_session', { session: 'small' });
    expectError(creator, 'creator_cannot_leave');
  });

  it('rejoins a member removed for inactivity by itself, and says so', async () => {
    const room = await alice.ok<{ pairing: { code: string } }>('create_session', { alias: 'idle' });
    await carol.ok('claim_pairing_code', { code: room.pairing.code, alias: 'idle' });
    clock.advance(3_601_000);
    await alice.ok('renew_session', { session: 'idle' });
    const result = await carol.call('poll_messages', { session: 'idle' });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({
      rejoined: { session: 'idle', agent_id: 'carol', reason: 'agent_not_in_session' },
    });
    expect(textOf(result)).toMatch(/^Rejoined session "idle" as carol: the relay had removed/);
    // Removed again: reading the session's resource rejoins too, and the transcript says so.
    clock.advance(3_601_000);
    await alice.ok('renew_session', { session: 'idle' });
    const transcript = await carol.read('nexus://sessions/idle');
    expect(transcript).toContain('- Rejoined as carol just now: the relay had removed this agent');
    expect(transcript).not.toContain('no longer a member');
  });

  it('with NEXUS_AUTO_REJOIN=0, tells a removed member the call that brings it back', async () => {
    const room = await alice.ok<{ pairing: { code: string } }>('create_session', {
      alias: 'idle2',
    });
    const ivan = await startServer({
      relayUrl: relay.url,
      agentId: 'ivan',
      env: { NEXUS_AUTO_REJOIN: '0' },
    });
    await ivan.ok('claim_pairing_code', { code: room.pairing.code, alias: 'idle2' });
    clock.advance(3_601_000);
    await alice.ok('renew_session', { session: 'idle2' });
    const text = await ivan.fail('poll_messages', { session: 'idle2' });
    expectError(text, 'agent_not_in_session');
    expect(text).toContain('Next: Call join_session with session_id "idle2" to join again');
    const joined = await ivan.ok<{ rejoined: { reason: string } }>('join_session', {
      session_id: 'idle2',
    });
    expect(joined.rejoined.reason).toBe('requested');
  });

  it('rejoins under a fresh agent id when the relay refuses the stored key', async () => {
    const room = await alice.ok<{ pairing: { code: string } }>('create_session', {
      alias: 'keyed',
    });
    const dave = await startServer({ relayUrl: relay.url, agentId: 'dave' });
    await dave.ok('claim_pairing_code', { code: room.pairing.code, alias: 'keyed' });
    tamperStore(dave, (session) => {
      session.sessionKey = 'f'.repeat(64);
    });
    const result = await dave.call('send_message', { session: 'keyed', text: 'hi' });
    expect(result.structuredContent).toMatchObject({
      verified: true,
      rejoined: {
        agent_id: 'dave-2',
        previous_agent_id: 'dave',
        reason: 'invalid_session_key',
      },
    });
    expect(textOf(result)).toContain(
      'Rejoined session "keyed" as dave-2 (was dave): the relay refused the stored session key',
    );
    expectNoSecretsSeen([dave]);
  });

  it('marks an expired session, tells the model to create a new one, and lists it as expired', async () => {
    const eve = await startServer({ relayUrl: relay.url, agentId: 'eve' });
    await eve.ok('create_session', { alias: 'mortal', ttl_seconds: 60, pair: false });
    clock.advance(61_000);
    const text = await eve.fail('send_message', { session: 'mortal', text: 'too late' });
    expectError(text, 'session_not_found');
    expect(text).toMatch(/create a new session/);
    const list = await eve.ok<{ sessions: { session: string; live: string }[] }>('list_sessions');
    expect(list.sessions).toEqual([
      expect.objectContaining({ session: 'mortal', live: 'not_found' }),
    ]);
    expect((await eve.client.listResources()).resources).toEqual([]);
    expect(
      eve.notifications.some(
        (n) => n.method === 'notifications/message' && JSON.stringify(n.params).includes('expired'),
      ),
    ).toBe(true);
  });

  it('reports a rate-limiting relay with its code and the wait it asks for', async () => {
    const strict = await useRelay({ rateLimitPerMinute: 3 });
    const frank = await startServer({ relayUrl: strict.url, agentId: 'frank' });
    let text = '';
    for (let i = 0; i < 10 && !text; i++) {
      const result = await frank.call('create_session', { pair: false });
      if (result.isError) text = textOf(result);
    }
    expectError(text, 'rate_limit_exceeded');
    expect(text).toMatch(/Retry after \d+ s\./);
  });

  it('reports an unreachable relay and a relay that goes away mid-wait', async () => {
    const nowhere = await startServer({
      relayUrl: `http://127.0.0.1:${await closedPort()}`,
      agentId: 'gina',
    });
    expectError(await nowhere.fail('create_session', {}), 'network_error');

    const doomed = await useRelay();
    const hank = await startServer({ relayUrl: doomed.url, agentId: 'hank' });
    await hank.ok('create_session', { alias: 'doomed', pair: false });
    // A relay that answered before is waited out to the time limit (it may be restarting).
    const waiting = hank.call('wait_for_messages', { session: 'doomed', timeout_seconds: 2 });
    await hank.ok('list_sessions');
    await doomed.close();
    const result = await waiting;
    expect(result.structuredContent).toMatchObject({
      timed_out: false,
      errors: [{ session: 'doomed', code: expect.stringMatching(/^(network_error|timeout)$/) }],
    });
    expect(textOf(result)).toMatch(/Could not read "doomed": (network_error|timeout): /);
    // The server survived and still answers.
    expect((await hank.ok<{ count: number }>('list_sessions')).count).toBe(1);
  });

  it('leaks no session key and no full session id in any error', () => {
    expectNoSecretsSeen([alice, bob, carol]);
  });
});
