import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import type { RelayOptions } from '../../src/relay/index.js';
import { RedisServer } from './redis-server.js';

export { freePort, RedisServer } from './redis-server.js';

export const STORE_KINDS = ['memory', 'sqlite', 'redis'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

let current: StoreKind = 'memory';
let redis: RedisServer | undefined;
let scratch: string | undefined;
let counter = 0;

/** The store options for the next relay of the running suite: a fresh database or key prefix. */
export function storeOptions(): RelayOptions {
  counter++;
  switch (current) {
    case 'memory':
      return { store: 'memory' };
    case 'sqlite':
      scratch ??= mkdtempSync(join(tmpdir(), 'nexus-sqlite-'));
      return { store: `sqlite:${join(scratch, `relay-${counter}.db`)}` };
    case 'redis':
      if (!redis) throw new Error('no redis-server: use describeEachStore');
      return { store: redis.url, redisKeyPrefix: `t${process.pid}-${counter}:` };
  }
}

/** The running suite's Redis (started by describeEachStore for the redis run). */
export function redisServer(): RedisServer {
  if (!redis) throw new Error('no redis-server: use describeEachStore');
  return redis;
}

/**
 * `describe` once per backend: every TestRelay started inside gets that store (a fresh SQLite
 * file, or a fresh key prefix on a real redis-server started for the block).
 */
export function describeEachStore(name: string, body: (kind: StoreKind) => void): void {
  describe.each(STORE_KINDS)(`${name} [%s store]`, (kind) => {
    beforeAll(async () => {
      current = kind;
      if (kind === 'redis') redis ??= await RedisServer.start();
    });
    afterAll(async () => {
      current = 'memory';
      await redis?.stop();
      redis = undefined;
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      scratch = undefined;
    });
    body(kind);
  });
}
