/**
 * The client core, assembled: relay client, store, session services and watcher. Knows HTTP
 * and disk, nothing of MCP, so a CLI or another host could sit on it too. Exports only what the
 * MCP layer and the terminal commands use; everything else is the core's own business.
 */
import { type Clock, systemClock } from './clock.js';
import type { CoreConfig } from './config.js';
import { E2eSessions } from './e2e-sessions.js';
import { Inbox } from './inbox.js';
import { Joining } from './joining.js';
import { createLogger, type Logger, stderrSink } from './logger.js';
import { SessionManager } from './manager.js';
import { Membership } from './membership.js';
import { Recovery } from './recovery.js';
import { RelayClient, type RelayClientOptions } from './relay-client.js';
import { RequestBudget } from './request-budget.js';
import { SessionRegistry } from './session-registry.js';
import { SessionStatus } from './session-status.js';
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
  /** The store and the client, for tests and diagnostics: services go through the manager. */
  store: SessionStore;
  client: RelayClient;
  logger: Logger;
  close(): Promise<void>;
}

export function createCore(options: CoreOptions): Core {
  const { config } = options;
  const logger = options.logger ?? createLogger(stderrSink());
  const clock = options.clock ?? systemClock;
  const store = new SessionStore({ dir: config.home ?? defaultStoreDir(), logger, clock });
  const client = new RelayClient({ ...options.client, timeoutMs: config.httpTimeoutMs, clock });
  const budget = new RequestBudget({
    clock,
    ...(config.requestsPerMinute !== undefined && { perMinute: config.requestsPerMinute }),
  });
  const registry = new SessionRegistry({
    store,
    logger,
    clock,
    ...(config.url !== undefined && { url: config.url }),
    ...(config.agentId !== undefined && { agentId: config.agentId }),
  });
  const recovery = new Recovery(registry, client, logger, config.autoRejoin !== false);
  const e2e = new E2eSessions({ store, redaction: config.clientRedaction ?? true });
  const inbox = new Inbox({ registry, store, client, budget, clock, recovery, e2e });
  const membership = new Membership(registry, client, logger, recovery);
  const manager = new SessionManager({
    registry,
    inbox,
    membership,
    joining: new Joining({
      registry,
      membership,
      inbox,
      e2e,
      e2eByDefault: config.e2e ?? false,
      logger,
    }),
    status: new SessionStatus(registry, client, recovery),
  });
  const watcher = new Watcher({
    registry,
    inbox,
    budget,
    clock,
    logger,
    pollIntervalMs: config.pollIntervalMs,
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

export type { Clock } from './clock.js';
export { mapLimit } from './concurrency.js';
export { type CoreConfig, configFromEnv, PUBLIC_RELAY_URL } from './config.js';
export {
  clientError,
  isNexusError,
  type NetworkCause,
  NexusError,
  type NexusErrorCode,
  toNexusError,
  UNREACHABLE_HINTS,
} from './errors.js';
export { NETWORK_CAUSES } from './http-transport.js';
export { type Delivery, MAX_POLL_LIMIT, type PollResult, type SessionError } from './inbox.js';
export {
  createLogger,
  type Logger,
  type LogLevel,
  type LogSink,
  stderrSink,
} from './logger.js';
export type { SessionManager } from './manager.js';
export type { JoinResult, PairingInfo } from './membership.js';
export { type MessageView, messageSize } from './messages.js';
export type { Rejoined } from './recovery.js';
export type { LiveStatus } from './session-status.js';
export { type SessionInfo, validateAlias } from './sessions.js';
export { defaultStoreDir, SessionStore } from './store.js';
export type { Watcher } from './watcher.js';
