import { dirname } from 'node:path';
import { MemoryStorage } from './memory-storage.js';
import type { ResolvedRelayOptions } from './options.js';
import { isRedisTimeout, isRedisUnavailable, RedisStorage } from './redis-storage.js';
import { importSessionsJson } from './sessions-json-import.js';
import { isSqliteWriteFailure, SqliteStorage } from './sqlite-storage.js';
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

/**
 * When a request failed because the store cannot serve it now, what to tell the client (answered
 * 503 with Retry-After, logged in one line without a stack); undefined for any other error.
 */
export function storeUnavailable(error: unknown): string | undefined {
  if (isRedisTimeout(error)) {
    return "The relay's store did not answer in time, so what was asked may still take effect: try again in a few seconds, and after a send, poll first to see whether it arrived.";
  }
  if (isRedisUnavailable(error))
    return "The relay's store is unreachable: try again in a few seconds.";
  if (isSqliteWriteFailure(error)) {
    return "The relay's store cannot write (its disk may be full): nothing was kept; try again later.";
  }
  return undefined;
}
