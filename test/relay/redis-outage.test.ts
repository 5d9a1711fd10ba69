import { describe, expect, it } from 'vitest';
import { expectError, TestRelay } from './helpers.js';
import { RedisServer } from './stores.js';

describe('a Redis store that goes away', () => {
  it('answers 503 with Retry-After at once, logging one line per request and no stack', async () => {
    const redis = await RedisServer.start();
    try {
      const relay = await TestRelay.use({ store: redis.url });
      const { sessionId } = await relay.sessionWithCreator('alice');
      await redis.stop();
      const reply = await relay.call('GET', `/v1/sessions/${sessionId}`);
      const body = expectError(reply, 503, 'internal_error');
      expect(body.message).toContain('store is unreachable');
      expect(reply.headers.get('retry-after')).toBe('5');
      expect(relay.logs.some((line) => line.includes('redis unreachable'))).toBe(true);
      expect(relay.logs.join('\n')).not.toMatch(/\n\s+at /);
      expect(relay.logs.join('\n')).not.toContain(sessionId);
    } finally {
      await redis.stop();
    }
  });

  it('refuses to start when Redis cannot be reached, naming the address', async () => {
    const redis = await RedisServer.start();
    const url = redis.url;
    await redis.stop();
    await expect(TestRelay.start({ store: url })).rejects.toThrow(
      new RegExp(`cannot reach the Redis store at ${new URL(url).host}`),
    );
  });
});
