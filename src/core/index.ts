/**
 * The client core, assembled: relay client, store, session manager and watcher. Knows HTTP
 * and disk, nothing of MCP, so a CLI or another host could sit on it too.
 */
import { type Clock, systemClock } from './clock.js';
import type { CoreConfig } from './config.js';
import { createLogger, type Logger, stderrSink } from './logger.js';
import { SessionManager } from './manager.js';
import { RelayClient, type RelayClientOptions } from './relay-client.js';
import { defaultStoreDir, SessionStore } from './store.js';
import { Watcher } from './watcher.js';

export interface CoreOptions {
  config: CoreConfig;
  logger?: Logger;
  clock?: Clock;
  /** Test hooks for the HTTP client (retry timing, sleep). */
  client?: Omit<RelayClientOptions, 'timeoutMs' | 'clock'>;
  longPollMs?: number;
}

export interface Core {
  manager: SessionManager;
  watcher: Watcher;
  store: SessionStore;
  client: RelayClient;
  logger: Logger;
  close(): Promise<void>;
}

export function createCore(options: CoreOptions): Core {
  const logger = options.logger ?? createLogger(stderrSink());
  const clock = options.clock ?? systemClock;
  const store = new SessionStore({
    dir: options.config.home ?? defaultStoreDir(),
    logger,
    clock,
  });
  const client = new RelayClient({
    ...options.client,
    timeoutMs: options.config.httpTimeoutMs,
    clock,
  });
  const manager = new SessionManager({
    store,
    client,
    logger,
    clock,
    ...(options.config.url !== undefined && { url: options.config.url }),
    ...(options.config.agentId !== undefined && { agentId: options.config.agentId }),
  });
  const watcher = new Watcher({
    manager,
    logger,
    pollIntervalMs: options.config.pollIntervalMs,
    ...(options.longPollMs !== undefined && { longPollMs: options.longPollMs }),
  });
  return {
    manager,
    watcher,
    store,
    client,
    logger,
    async close() {
      await watcher.close();
      await client.close();
    },
  };
}

export * from './clock.js';
export * from './config.js';
export * from './errors.js';
export * from './logger.js';
export * from './manager.js';
export * from './messages.js';
export * from './relay-client.js';
export * from './sessions.js';
export * from './store.js';
export * from './watcher.js';
