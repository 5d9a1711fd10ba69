import { RedisStorage } from '../../src/relay/redis-storage.js';

/**
 * A Redis store under its own key prefix holding one session with `alice` as its only member
 * (key `key`), for tests that look at the keys a store writes.
 */
export async function storeWithSession(
  url: string,
  prefix: string,
  sessionId: string,
  key = 'k'.repeat(64),
): Promise<RedisStorage> {
  const storage = await RedisStorage.open({
    url,
    maxMessagesPerSession: 100,
    keyPrefix: prefix,
    log: () => undefined,
  });
  const now = Date.now();
  await storage.createSession({
    sessionId,
    ttlSeconds: 600,
    maxAgents: 5,
    createdAt: now,
    expiresAt: now + 600_000,
    lastCursor: 0,
    agents: [{ agentId: 'alice', sessionKey: key, joinedAt: now, lastSeenAt: now }],
  });
  return storage;
}
