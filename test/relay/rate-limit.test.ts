import { afterEach, expect, it } from 'vitest';
import { expectError, FakeClock, TestRelay } from './helpers.js';
import { describeEachStore } from './stores.js';

let relay: TestRelay;
afterEach(async () => {
  await relay?.close();
});

describeEachStore('rate limit', () => {
  it('answers 429 with Retry-After past the per-minute budget, then lets the client back', async () => {
    const clock = new FakeClock();
    relay = await TestRelay.start({ rateLimitPerMinute: 3 }, clock);
    for (let i = 0; i < 3; i++) expect((await relay.call('GET', '/v1/stats')).status).toBe(200);

    const limited = await relay.call('PUT', '/v1/sessions', { json: {} });
    expectError(limited, 429, 'rate_limit_exceeded');
    expect(limited.headers.get('retry-after')).toBe('60');

    clock.advanceSeconds(45);
    const later = await relay.call('GET', '/v1/stats');
    expectError(later, 429, 'rate_limit_exceeded');
    expect(later.headers.get('retry-after')).toBe('15');

    // /health is exempt, so monitors and capability probes keep working.
    const health = await relay.call('GET', '/health');
    expect(health.status).toBe(200);

    clock.advanceSeconds(15);
    expect((await relay.call('PUT', '/v1/sessions', { json: {} })).status).toBe(201);
  });

  it('counts errors and unknown routes too', async () => {
    const clock = new FakeClock();
    relay = await TestRelay.start({ rateLimitPerMinute: 2 }, clock);
    expectError(await relay.call('GET', '/nope'), 404, 'not_found');
    expectError(
      await relay.call('GET', `/v1/sessions/${'0'.repeat(48)}`),
      404,
      'session_not_found',
    );
    expectError(await relay.call('GET', '/nope'), 429, 'rate_limit_exceeded');
  });

  it('can be switched off', async () => {
    relay = await TestRelay.start({ rateLimitPerMinute: 0 });
    for (let i = 0; i < 150; i++) expect((await relay.call('GET', '/v1/stats')).status).toBe(200);
  });
});
