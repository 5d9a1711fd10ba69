import { createClient } from '@redis/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RedisServer } from './redis-server.js';
import { storeWithSession } from './redis-session.js';

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
  const sessionId = 'e'.repeat(48);
  const storage = await storeWithSession(redis.url, prefix, sessionId);
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
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

it("judges a push-out by Redis's own clock, so a relay whose clock runs ahead cannot hold off the others'", async () => {
  const prefix = 'ttl-skew:';
  const sessionId = 'f'.repeat(48);
  const storage = await storeWithSession(redis.url, prefix, sessionId);
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    const check = { key: undefined, idleMs: 0 };
    const draft = (text: string, at: number) => ({
      id: `msg_${text}`,
      agentId: 'alice',
      text,
      verified: false,
      createdAt: at,
    });
    // A relay 90 s ahead sends once; then, as if much time had passed, the keys are near their end.
    await storage.appendIfAllowed(sessionId, draft('ahead', Date.now() + 90_000), check);
    for (const key of KEYS) await client.pExpire(`${prefix}{${sessionId}}:${key}`, 30_000);
    // A relay on the true time sends: the keys must again outlive the session it reports.
    await storage.appendIfAllowed(sessionId, draft('true', Date.now()), check);
    const left = ((await storage.getSession(sessionId))?.expiresAt ?? 0) - Date.now();
    for (const key of KEYS) {
      const pttl = await client.pTTL(`${prefix}{${sessionId}}:${key}`);
      expect(pttl, key).toBeGreaterThanOrEqual(left + GRACE_MS - 2_000);
    }
  } finally {
    await client.close();
    await storage.close();
  }
});
