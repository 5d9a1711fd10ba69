import { createClient } from '@redis/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisStorage } from '../../src/relay/redis-storage.js';
import { RedisServer } from './redis-server.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis.stop();
});

const GRACE_MS = 60_000;
const KEYS = ['meta', 'agents', 'seen', 'msgs'] as const;

/**
 * Sends push the keys' Redis TTLs out at most once a second; whatever the order of touches,
 * renewals and sends, every key must still outlive the session's own expiry.
 */
it('keeps every key of a session alive past its expiry, the message key from its first send', async () => {
  const prefix = 'ttl-test:';
  const storage = await RedisStorage.open({
    url: redis.url,
    maxMessagesPerSession: 100,
    keyPrefix: prefix,
    log: () => undefined,
  });
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    const sessionId = 'e'.repeat(48);
    const now = Date.now();
    await storage.createSession({
      sessionId,
      ttlSeconds: 600,
      maxAgents: 5,
      createdAt: now,
      expiresAt: now + 600_000,
      lastCursor: 0,
      agents: [{ agentId: 'alice', sessionKey: 'k'.repeat(64), joinedAt: now, lastSeenAt: now }],
    });
    // Every key lives at least until the session's expiry plus most of the grace.
    const expectKeysOutlive = async (): Promise<void> => {
      const session = await storage.getSession(sessionId);
      const left = (session?.expiresAt ?? 0) - Date.now();
      for (const key of KEYS) {
        const pttl = await client.pTTL(`${prefix}{${sessionId}}:${key}`);
        expect(pttl, key).toBeGreaterThanOrEqual(left + GRACE_MS - 2_000);
      }
    };
    const draft = (text: string, at = Date.now()) => ({
      id: `msg_${text}`,
      agentId: 'alice',
      text,
      verified: false,
      createdAt: at,
    });
    // A touch before any message, then sends within the same second: the first one creates
    // the message key, which must get its TTL although the others' were just pushed out.
    await storage.touch(sessionId, 'alice', Date.now());
    await storage.appendMessage(sessionId, { ...draft('one'), expiresAt: Date.now() + 600_000 });
    const check = { key: undefined, idleMs: 0 };
    await storage.appendIfAllowed(sessionId, draft('two'), check);
    await expectKeysOutlive();
    // A renewal to a shorter ttl shortens every key's TTL; a send dated 1.1 s later pushes them
    // out again.
    await storage.touch(sessionId, 'alice', Date.now(), 60);
    await storage.appendIfAllowed(sessionId, draft('three', Date.now() + 1_100), check);
    await expectKeysOutlive();
    const pttl = await client.pTTL(`${prefix}{${sessionId}}:msgs`);
    expect(pttl).toBeLessThanOrEqual(60_000 + GRACE_MS);
  } finally {
    await client.close();
    await storage.close();
  }
});
