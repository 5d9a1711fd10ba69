import { expect, it } from 'vitest';
import {
  ClaimResponse,
  PairResponse,
  PairStatusResponse,
  RELAY_PAIR_CODE_PATTERN,
  SessionStatusResponse,
} from '../../src/protocol/index.js';
import type { RelayOptions } from '../../src/relay/index.js';
import { expectError, expectOk, FakeClock, T0, TestRelay } from './helpers.js';
import { describeEachStore } from './stores.js';

let relay: TestRelay;
const start = async (options: RelayOptions = {}, clock = new FakeClock()) => {
  relay = await TestRelay.use(options, clock);
  return relay;
};

async function pair(sessionId: string): Promise<PairResponse> {
  return expectOk(await relay.call('PUT', '/v1/pair', { json: { sessionId } }), 201, PairResponse);
}

async function pairState(code: string): Promise<string> {
  return expectOk(await relay.call('GET', `/v1/pair/${code}/status`), 200, PairStatusResponse)
    .state;
}

function claim(code: string, agentId?: string) {
  return relay.call('POST', `/v1/pair/${code}/claim`, agentId === undefined ? {} : { agentId });
}

describeEachStore('pair and claim', () => {
  it('mints a readable single-use code with a link on this relay', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice', { greeting: 'Hello there' });
    const paired = await pair(sessionId);
    expect(paired.code).toMatch(RELAY_PAIR_CODE_PATTERN);
    expect(paired.url).toBe(`${relay.url}/p/${paired.code}`);
    expect(paired.expiresAt).toBe(new Date(T0 + 600_000).toISOString());
    expect(paired.code).not.toContain(sessionId.slice(0, 8).toUpperCase());
    expect((await pair(sessionId)).code).not.toBe(paired.code);

    expect(await pairState(paired.code)).toBe('pending');
    const claimed = expectOk(await claim(paired.code, 'carol'), 200, ClaimResponse);
    expect(claimed).toEqual({
      sessionId,
      status: 'claimed',
      sessionKey: expect.stringMatching(/^[0-9a-f]{64}$/),
      greeting: 'Hello there',
    });
    expect(await pairState(paired.code)).toBe('claimed');
    const status = expectOk(
      await relay.call('GET', `/v1/sessions/${sessionId}`),
      200,
      SessionStatusResponse,
    );
    expect(status.agents).toEqual(['alice', 'carol']);
    // The claimer is a full member: its key verifies its messages.
    const sent = await relay.send(sessionId, 'carol', { text: 'hi' }, claimed.sessionKey);
    expect(sent.cursor).toBe('1');

    expectError(await claim(paired.code, 'dave'), 404, 'code_expired_or_used');
  });

  it('reads codes in any case', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator();
    const { code } = await pair(sessionId);
    expect(await pairState(code.toLowerCase())).toBe('pending');
    expectOk(await claim(code.toLowerCase(), 'bob'), 200, ClaimResponse);
    expect(await pairState(code)).toBe('claimed');
  });

  it('lets codes expire', async () => {
    const clock = new FakeClock();
    await start({ pairCodeTtlSeconds: 120 }, clock);
    const { sessionId } = await relay.sessionWithCreator('alice', { ttl: 86_400 });
    const { code, expiresAt } = await pair(sessionId);
    expect(expiresAt).toBe(new Date(T0 + 120_000).toISOString());
    clock.advanceSeconds(119);
    expect(await pairState(code)).toBe('pending');
    clock.advanceSeconds(1);
    expect(await pairState(code)).toBe('expired');
    expectError(await claim(code, 'bob'), 404, 'code_expired_or_used');
  });

  it('reports a code for an expired session as expired', async () => {
    const clock = new FakeClock();
    await start({}, clock);
    const { sessionId } = await relay.sessionWithCreator('alice', { ttl: 60 });
    const { code } = await pair(sessionId);
    clock.advanceSeconds(60);
    expect(await pairState(code)).toBe('expired');
    expectError(await claim(code, 'bob'), 404, 'code_expired_or_used');
  });

  it('keeps the code when the claimer cannot join', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice', { maxAgents: 2 });
    const { code } = await pair(sessionId);
    expectError(await claim(code, 'alice'), 409, 'agent_id_taken');
    expect(await pairState(code)).toBe('pending');
    await relay.join(sessionId, 'bob');
    expectError(await claim(code, 'carol'), 409, 'session_full');
    expect(await pairState(code)).toBe('pending');
    expectError(await claim(code), 400, 'missing_agent_id');
    expectError(await claim(code, 'not valid'), 400, 'invalid_request');
    expect(await pairState(code)).toBe('pending');
  });

  it('refuses unknown codes and sessions', async () => {
    await start();
    expectError(
      await relay.call('GET', '/v1/pair/PEARL-FOCAL-S5SJV/status'),
      404,
      'code_not_found',
    );
    expectError(await claim('PEARL-FOCAL-S5SJV', 'bob'), 404, 'code_not_found');
    expectError(
      await relay.call('PUT', '/v1/pair', { json: { sessionId: 'd'.repeat(48) } }),
      404,
      'session_not_found',
    );
    const invalid = expectError(
      await relay.call('PUT', '/v1/pair', { json: {} }),
      400,
      'invalid_request',
    );
    expect(invalid.details).toEqual([{ path: 'sessionId', message: expect.any(String) }]);
    expectError(await relay.call('PUT', '/v1/pair', { raw: '{' }), 400, 'invalid_body');
  });
});

describeEachStore('pairing page', () => {
  it('redirects /p/CODE to the skill page', async () => {
    await start();
    const reply = await relay.call('GET', '/p/pearl-focal-s5sjv');
    expect(reply.status).toBe(302);
    expect(reply.headers.get('location')).toBe('/v1/pair/PEARL-FOCAL-S5SJV/skill');
    expect(reply.headers.get('x-request-id')).toBeTruthy();
  });

  it('serves markdown naming this relay and the code, never the session id', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator('alice', { greeting: 'secret plans' });
    const { code } = await pair(sessionId);
    const reply = await relay.call('GET', `/v1/pair/${code}/skill`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/markdown/);
    expect(reply.headers.get('content-security-policy')).toContain("script-src 'none'");
    const page = reply.text;
    expect(page).toContain(`${relay.url}/v1/pair/${code}/claim`);
    expect(page).toContain(
      `curl -sS -X POST '${relay.url}/v1/pair/${code}/claim' -H 'X-Agent-Id: my-agent'`,
    );
    expect(page).toContain(`${relay.url}/v1/sessions/SESSION_ID/messages?after=`);
    expect(page).toContain('X-Session-Key: SESSION_KEY');
    expect(page).toContain('-X DELETE');
    expect(page).toContain('npx -y nexus-messaging-mcp');
    expect(page).toContain('claim_pairing_code');
    expect(page).not.toContain(sessionId);
    expect(page).not.toContain('secret plans');
    // Reading the page does not claim the code.
    expect(await pairState(code)).toBe('pending');
  });

  it('serves escaped, script-free HTML to browsers', async () => {
    await start();
    const { sessionId } = await relay.sessionWithCreator();
    const { code } = await pair(sessionId);
    const reply = await relay.call('GET', `/v1/pair/${code}/skill`, {
      headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' },
    });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/html/);
    expect(reply.headers.get('content-security-policy')).toContain("script-src 'none'");
    const html = reply.text;
    expect(html).toContain('<!doctype html>');
    expect(html).toContain(`<h1>Join a NexusMessaging conversation</h1>`);
    expect(html).toContain(code);
    expect(html).toContain(`-H &#39;X-Agent-Id: my-agent&#39;`);
    expect(html).toContain('[REDACTED:&lt;type&gt;]');
    expect(html).not.toContain('<type>');
    expect(html).not.toMatch(/<script|javascript:|\son[a-z]+=/i);
    expect(html).not.toContain(sessionId);
  });

  it('puts pairing links under the public URL, path included', async () => {
    await start({ publicUrl: 'https://relay.example/nexus/' });
    const { sessionId } = await relay.sessionWithCreator();
    const { code, url } = await pair(sessionId);
    expect(url).toBe(`https://relay.example/nexus/p/${code}`);
    const redirect = await relay.call('GET', `/p/${code}`);
    expect(redirect.headers.get('location')).toBe(`/nexus/v1/pair/${code}/skill`);
    const page = await relay.call('GET', `/v1/pair/${code}/skill`);
    expect(page.text).toContain(`https://relay.example/nexus/v1/pair/${code}/claim`);
  });

  it('answers unknown and used codes with JSON, or a short page for browsers', async () => {
    await start();
    expectError(await relay.call('GET', '/v1/pair/PEARL-FOCAL-S5SJV/skill'), 404, 'code_not_found');
    const html = await relay.call('GET', '/v1/pair/PEARL-FOCAL-S5SJV/skill', {
      headers: { Accept: 'text/html' },
    });
    expect(html.status).toBe(404);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.text).toContain('Unknown or expired pairing code');

    const { sessionId } = await relay.sessionWithCreator();
    const { code } = await pair(sessionId);
    expectOk(await claim(code, 'bob'), 200, ClaimResponse);
    expectError(await relay.call('GET', `/v1/pair/${code}/skill`), 404, 'code_expired_or_used');
  });
});
