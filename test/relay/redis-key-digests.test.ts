import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RedisStorage } from '../../src/relay/redis-storage.js';
import { RedisServer } from './redis-server.js';
import { storeWithSession } from './redis-session.js';

let redis: RedisServer;
beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis.stop();
});

/** The digests a store keeps of session keys it has accepted (white box: the map's size). */
const remembered = (storage: RedisStorage) =>
  (storage as unknown as { keyHashes: Map<string, string> }).keyHashes.size;

it('remembers the digest of an accepted key only: wrong, oversized or unknown keys leave nothing', async () => {
  const sessionId = 'd'.repeat(48);
  const key = 'a'.repeat(64);
  const storage = await storeWithSession(redis.url, 'digests:', sessionId, key);
  try {
    const send = (id: string, sendKey: string, session = sessionId) =>
      storage.appendIfAllowed(
        session,
        { id, agentId: 'alice', text: id, verified: true, createdAt: Date.now() },
        { key: sendKey, idleMs: 0 },
      );
    for (let i = 0; i < 20; i++) {
      expect(await send(`wrong${i}`, `${'b'.repeat(16_000)}${i}`)).toBeUndefined();
      expect(await send(`nowhere${i}`, key, 'e'.repeat(48))).toBeUndefined();
    }
    expect(remembered(storage)).toBe(0);
    expect(await send('right', key)).toMatchObject({ cursor: 1 });
    expect(await send('again', key)).toMatchObject({ cursor: 2 });
    expect(remembered(storage)).toBe(1);
  } finally {
    await storage.close();
  }
});
