import { dirname } from 'node:path';
import { MemoryStorage } from './memory-storage.js';
import type { ResolvedRelayOptions } from './options.js';
import { isRedisUnavailable, RedisStorage } from './redis-storage.js';
import { importSessionsJson } from './sessions-json-import.js';
import { SqliteStorage } from './sqlite-storage.js';
import type { RelayStorage } from './storage.js';

/** Opens the store the options name; throws StoreRefused when it cannot be used as it is. */
export async function openStorage(options: ResolvedRelayOptions): Promise<RelayStorage> {
  const { store, maxMessagesPerSession } = options;
  switch (store.kind) {
    case 'memory':
      return new MemoryStorage({ maxMessagesPerSession });
    case 'sqlite': {
      const storage = await SqliteStorage.open({
        path: store.path,
        maxMessagesPerSession,
        log: options.log,
      });
      // Older relays kept sessions.json in the data dir, the dir relay.db now lives in.
      importSessionsJson(storage, dirname(store.path), options.clock.now(), options.log);
      return storage;
    }
    case 'redis':
      return RedisStorage.open({
        url: store.url,
        maxMessagesPerSession,
        ...(store.keyPrefix !== undefined ? { keyPrefix: store.keyPrefix } : {}),
        log: options.log,
      });
  }
}

/** What the startup line says about the store: never a password from a redis:// URL. */
export function describeStore(options: ResolvedRelayOptions): string {
  const { store } = options;
  if (store.kind === 'memory') return 'memory (nothing kept across restarts)';
  if (store.kind === 'sqlite') return `sqlite ${store.path}`;
  const url = new URL(store.url);
  return `redis ${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/** Whether a request failed because the store is unreachable (answered 503, logged without a stack). */
export function storeUnavailable(error: unknown): boolean {
  return isRedisUnavailable(error);
}
