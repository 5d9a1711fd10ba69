import { expect, it } from 'vitest';
import {
  CreateSessionResponse,
  LeaveResponse,
  RELAY_SESSION_ID_PATTERN,
  RenewResponse,
  SessionStatusResponse,
} from '../../src/protocol/index.js';
import type { RelayOptions } from '../../src/relay/index.js';
import { expectError, expectOk, FakeClock, T0, TestRelay } from './helpers.js';
import { describeEachStore } from './stores.js';

const KEY_PATTERN = /^[0-9a-f]{64}$/;

let relay: TestRelay;
const start = async (options: RelayOptions = {}, clock = new FakeClock()) => {
  relay = await TestRelay.use(options, clock);
  return relay;
};

describeEachStore('create and status', () => {
  it('creates a session with defaults from an empty body', async () => {
    await start();
    const reply = await relay.call('PUT', '/v1/sessions');
    const created = expectOk(reply, 201, CreateSessionResponse);
    expect(created.sessionId).toMatch(RELAY_SESSION_ID_PATTERN);
    expect(created).toMatchObject({ ttl: 3660, maxAgents: 50, state: 'active' });
    expect(created.sessionKey).toBeUndefined();
    expect(created.expiresAt).toBe(new Date(T0 + 3660_000).toISOString());
    expect(reply.headers.get('x-request-id')).toBeTruthy();

    const status = expectOk(
      await relay.call('GET', `/v1/sessions/${created.sessionId}`),
      200,
      SessionStatusResponse,
    );
    expect(status).toEqual({
      sessionId: created.sessionId,
      state: 'active',
      agents: [],
      ttl: 3660,
      maxAgents: 50,
      creatorAgentId: null,
      expiresAt: new Date(T0 + 3660_000).toISOString(),
    });
  });

  it('auto-joins the creator and hands it a key', async () => {
    await start();
    const created = await relay.createSession({ creatorAgentId: 'alice', ttl: 600, maxAgents: 3 });
    expect(created).toMatchObject({ creatorAgentId: 'alice', ttl: 600, maxAgents: 3 });
    expect(created.sessionKey).toMatch(KEY_PATTERN);
    const status = expectOk(
      await relay.call('GET', `/v1/sessions/${created.sessionId}`),
      200,
      SessionStatusResponse,
    );
    expect(status.agents).toEqual(['alice']);
    expect(status.creatorAgentId).toBe('alice');
  });

  it('mints a different id and key every time', async () => {
    await start();
    const a = await relay.createSession({ creatorAgentId: 'alice' });
    const b = await relay.createSession({ creatorAgentId: 'alice' });
    expect(a.sessionId).not.toBe(b.sessionId);
    expect(a.sessionKey).not.toBe(b.sessionKey);
  });

  it('clamps ttl to MAX_TTL_SECONDS and refuses ttl below 60', async () => {
    await start({ maxTtlSeconds: 7200 });
    expect((await relay.createSession({ ttl: 999_999 })).ttl).toBe(7200);
    expect((await relay.createSession({ ttl: 60 })).ttl).toBe(60);
    const refused = expectError(
      await relay.call('PUT', '/v1/sessions', { json: { ttl: 59 } }),
      400,
      'invalid_request',
    );
    expect(refused.details).toEqual([{ path: 'ttl', message: 'ttl must be at least 60' }]);
  });

  it('clamps maxAgents to MAX_AGENTS and defaults to DEFAULT_MAX_AGENTS', async () => {
    await start({ maxAgents: 5, defaultMaxAgents: 3 });
    expect((await relay.createSession({})).maxAgents).toBe(3);
    expect((await relay.createSession({ maxAgents: 500 })).maxAgents).toBe(5);
    expect((await relay.createSession({ maxAgents: 2 })).maxAgents).toBe(2);
  });

  it('lists every invalid field in details', async () => {
    await start();
    const error = expectError(
      await relay.call('PUT', '/v1/sessions', {
        json: { ttl: 'long', maxAgents: 0, creatorAgentId: 'no spaces allowed' },
      }),
      400,
      'invalid_request',
    );
    const paths = (error.details as { path: string }[]).map((detail) => detail.path).sort();
    expect(paths).toEqual(['creatorAgentId', 'maxAgents', 'ttl']);
  });

  it('answers invalid_body for a body that is not JSON', async () => {
    await start();
    expectError(await relay.call('PUT', '/v1/sessions', { raw: '{"ttl": ' }), 400, 'invalid_body');
  });

  it('answers session_not_found for an unknown session', async () => {
    await start();
    expectError(
      await relay.call('GET', `/v1/sessions/${'0'.repeat(48)}`),
      404,
      'session_not_found',
    );
  });
});

describeEachStore('join', () => {
  it('joins with a fresh key, counts agents and returns the greeting', async () => {
    await start();
    const { sessionId, key } = await relay.sessionWithCreator('alice', { greeting: 'Hi, bob.' });
    const joined = await relay.join(sessionId, 'bob');
    expect(joined).toEqual({
      status: 'joined',
      agentsOnline: 2,
      sessionKey: expect.stringMatching(KEY_PATTERN),
      greeting: 'Hi, bob.',
    });
    expect(joined.sessionKey).not.toBe(key);
  });

  it('omits the greeting when the session has none', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator();
    const reply = await relay.call('POST', `/v1/sessions/${sessionId}/join`, { agentId: 'bob' });
    expect(reply.status).toBe(200);
    expect(reply.body).not.toHaveProperty('greeting');
  });

  it('refuses a taken agent id, a full session, and bad or missing headers', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice', { maxAgents: 2 });
    const path = `/v1/sessions/${sessionId}/join`;
    expectError(await relay.call('POST', path, { agentId: 'alice' }), 409, 'agent_id_taken');
    await relay.join(sessionId, 'bob');
    expectError(await relay.call('POST', path, { agentId: 'bob' }), 409, 'agent_id_taken');
    expectError(await relay.call('POST', path, { agentId: 'carol' }), 409, 'session_full');
    expectError(await relay.call('POST', path), 400, 'missing_agent_id');
    const invalid = expectError(
      await relay.call('POST', path, { agentId: 'bad id!' }),
      400,
      'invalid_request',
    );
    expect(invalid.details).toEqual([{ path: 'X-Agent-Id', message: expect.any(String) }]);
    expectError(
      await relay.call('POST', `/v1/sessions/${'f'.repeat(48)}/join`, { agentId: 'bob' }),
      404,
      'session_not_found',
    );
  });
});

describeEachStore('leave', () => {
  it('removes a member that presents its own key', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator();
    const bob = await relay.join(sessionId, 'bob');
    const reply = await relay.call('DELETE', `/v1/sessions/${sessionId}/agents/bob`, {
      agentId: 'bob',
      sessionKey: bob.sessionKey,
    });
    const left = expectOk(reply, 200, LeaveResponse);
    expect(left).toEqual({
      ok: true,
      status: 'removed',
      sessionId,
      agentId: 'bob',
      message: expect.any(String),
    });
    const status = expectOk(
      await relay.call('GET', `/v1/sessions/${sessionId}`),
      200,
      SessionStatusResponse,
    );
    expect(status.agents).toEqual(['alice']);
    // The id is free again.
    await relay.join(sessionId, 'bob');
  });

  it('checks in the documented order', async () => {
    await start();
    const { sessionId, key: aliceKey } = await relay.sessionWithCreator('alice');
    const bob = await relay.join(sessionId, 'bob');
    const leave = (target: string, agentId: string, sessionKey?: string) =>
      relay.call('DELETE', `/v1/sessions/${sessionId}/agents/${target}`, {
        agentId,
        ...(sessionKey !== undefined ? { sessionKey } : {}),
      });

    expectError(
      await relay.call('DELETE', `/v1/sessions/${'a'.repeat(48)}/agents/bob`, {
        agentId: 'bob',
        sessionKey: bob.sessionKey,
      }),
      404,
      'session_not_found',
    );
    // Unknown agent beats a missing key.
    expectError(await leave('zoe', 'zoe'), 404, 'agent_not_found');
    expectError(await leave('bob', 'bob'), 401, 'missing_session_key');
    expectError(await leave('bob', 'bob', 'f'.repeat(64)), 401, 'invalid_session_key');
    // Alice's valid key does not let her remove bob, nor bob's key someone else.
    expectError(await leave('bob', 'alice', aliceKey), 401, 'invalid_session_key');
    expectError(await leave('bob', 'alice', bob.sessionKey), 401, 'invalid_session_key');
    // The creator cannot leave, even with her own key.
    expectError(await leave('alice', 'alice', aliceKey), 403, 'forbidden');
    expectError(
      await relay.call('DELETE', `/v1/sessions/${sessionId}/agents/bob`, {
        sessionKey: bob.sessionKey,
      }),
      400,
      'missing_agent_id',
    );
    // Nothing above removed anyone.
    const status = expectOk(
      await relay.call('GET', `/v1/sessions/${sessionId}`),
      200,
      SessionStatusResponse,
    );
    expect(status.agents).toEqual(['alice', 'bob']);
  });
});

describeEachStore('renew and expiry', () => {
  it('renews for members, with a new ttl when asked', async () => {
    const clock = new FakeClock();
    await start({}, clock);
    const { sessionId } = await relay.sessionWithCreator('alice', { ttl: 600 });
    clock.advanceSeconds(100);
    const renewed = expectOk(
      await relay.call('POST', `/v1/sessions/${sessionId}/renew`, {
        agentId: 'alice',
        json: { ttl: 1200 },
      }),
      200,
      RenewResponse,
    );
    expect(renewed).toMatchObject({
      ttl: 1200,
      expiresAt: new Date(T0 + 1300_000).toISOString(),
      sessionId,
      state: 'active',
      agents: ['alice'],
    });
    clock.advanceSeconds(100);
    const again = expectOk(
      await relay.call('POST', `/v1/sessions/${sessionId}/renew`, { agentId: 'alice' }),
      200,
      RenewResponse,
    );
    expect(again.ttl).toBe(1200);
    expect(again.expiresAt).toBe(new Date(T0 + 1400_000).toISOString());
  });

  it('refuses renew by a non-member, a short ttl, and clamps a long one', async () => {
    await start({ maxTtlSeconds: 3600 });
    const { sessionId } = await relay.sessionWithCreator();
    const path = `/v1/sessions/${sessionId}/renew`;
    expectError(await relay.call('POST', path, { agentId: 'mallory' }), 403, 'forbidden');
    expectError(
      await relay.call('POST', path, { agentId: 'alice', json: { ttl: 10 } }),
      400,
      'invalid_request',
    );
    expectError(
      await relay.call('POST', path, { agentId: 'alice', raw: 'nope' }),
      400,
      'invalid_body',
    );
    expectError(await relay.call('POST', path), 400, 'missing_agent_id');
    const renewed = expectOk(
      await relay.call('POST', path, { agentId: 'alice', json: { ttl: 100_000 } }),
      200,
      RenewResponse,
    );
    expect(renewed.ttl).toBe(3600);
  });

  it('slides the ttl on every poll and send, and expires when left alone', async () => {
    const clock = new FakeClock();
    await start({}, clock);
    const { sessionId, key } = await relay.sessionWithCreator('alice', { ttl: 120 });
    const status = () => relay.call('GET', `/v1/sessions/${sessionId}`);

    clock.advanceSeconds(100);
    await relay.poll(sessionId, 'alice');
    clock.advanceSeconds(100);
    expect((await status()).status).toBe(200);
    await relay.send(sessionId, 'alice', { text: 'still here' }, key);
    clock.advanceSeconds(119);
    const alive = expectOk(await status(), 200, SessionStatusResponse);
    expect(alive.expiresAt).toBe(new Date(T0 + 320_000).toISOString());
    clock.advanceSeconds(1);
    expectError(await status(), 404, 'session_not_found');
    expectError(
      await relay.call('GET', `/v1/sessions/${sessionId}/messages`, { agentId: 'alice' }),
      404,
      'session_not_found',
    );
  });

  it('does not slide the ttl on status or join', async () => {
    const clock = new FakeClock();
    await start({}, clock);
    const { sessionId } = await relay.sessionWithCreator('alice', { ttl: 60 });
    clock.advanceSeconds(30);
    await relay.join(sessionId, 'bob');
    await relay.call('GET', `/v1/sessions/${sessionId}`);
    clock.advanceSeconds(30);
    expectError(await relay.call('GET', `/v1/sessions/${sessionId}`), 404, 'session_not_found');
  });

  it('drops expired sessions from the stats', async () => {
    const clock = new FakeClock();
    await start({}, clock);
    await relay.sessionWithCreator('alice', { ttl: 60 });
    await relay.sessionWithCreator('alice', { ttl: 120 });
    expect((await relay.stats()).activeSessions).toBe(2);
    clock.advanceSeconds(60);
    expect(await relay.stats()).toMatchObject({ activeSessions: 1, totalAgents: 1 });
  });
});

describeEachStore('inactivity', () => {
  it('removes idle agents but never the creator', async () => {
    const clock = new FakeClock();
    await start({ agentInactivitySeconds: 100 }, clock);
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    await relay.join(sessionId, 'bob');
    await relay.join(sessionId, 'carol');
    clock.advanceSeconds(60);
    await relay.poll(sessionId, 'bob');
    clock.advanceSeconds(60);
    const status = expectOk(
      await relay.call('GET', `/v1/sessions/${sessionId}`),
      200,
      SessionStatusResponse,
    );
    expect(status.agents).toEqual(['alice', 'bob']);
    expectError(
      await relay.call('GET', `/v1/sessions/${sessionId}/messages`, { agentId: 'carol' }),
      403,
      'agent_not_in_session',
    );
    // The creator was idle 120 s too, and is still a member.
    const sent = await relay.send(sessionId, 'alice', { text: 'still mine' }, key);
    expect(sent.cursor).toBe('1');
    // carol may come back.
    await relay.join(sessionId, 'carol');
  });

  it('keeps idle agents when inactivity removal is off', async () => {
    const clock = new FakeClock();
    await start({ agentInactivitySeconds: 0 }, clock);
    const { sessionId } = await relay.sessionWithCreator('alice', { ttl: 86_400 });
    await relay.join(sessionId, 'bob');
    clock.advanceSeconds(80_000);
    await relay.poll(sessionId, 'bob');
  });
});
