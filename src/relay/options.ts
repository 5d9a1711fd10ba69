import { join } from 'node:path';
import { type Clock, systemClock } from './clock.js';

export interface RelayOptions {
  host?: string;
  port?: number;
  /**
   * `memory`, `sqlite:PATH` or `redis://HOST:PORT[/DB]`. Unset: SQLite in `dataDir` when one is
   * given, else memory (the CLI always gives a data dir, so a relay it starts is durable).
   */
  store?: string;
  /** Holds `relay.db` when no store is given. */
  dataDir?: string;
  /** Prefix of every Redis key (tests and relays sharing one Redis); default `nexus:`. */
  redisKeyPrefix?: string;
  /** Take the client address from the last X-Forwarded-For hop (behind a reverse proxy). */
  trustProxy?: boolean;
  /** Live sessions one client address may create; 0 = no cap. */
  maxSessionsPerIp?: number;
  /** Base URL used in pairing links (may carry a path, e.g. https://host/nexus). */
  publicUrl?: string;
  maxTtlSeconds?: number;
  maxAgents?: number;
  defaultMaxAgents?: number;
  /** 0 = agents are never removed for inactivity. */
  agentInactivitySeconds?: number;
  pairCodeTtlSeconds?: number;
  /** Requests per IP per 60 s; 0 = no limit. */
  rateLimitPerMinute?: number;
  maxMessageBytes?: number;
  maxMessagesPerSession?: number;
  /** The long-poll extension (`waitMs` on poll); off makes every poll answer at once. */
  longPoll?: boolean;
  clock?: Clock;
  sweepIntervalMs?: number;
  /** Operational log lines; default: stderr. Never receives session ids or keys. */
  log?: (line: string) => void;
}

export const RELAY_DEFAULTS = {
  host: '127.0.0.1',
  port: 8787,
  maxTtlSeconds: 86_400,
  maxAgents: 50,
  defaultMaxAgents: 50,
  agentInactivitySeconds: 0,
  pairCodeTtlSeconds: 600,
  rateLimitPerMinute: 100,
  maxMessageBytes: 32_768,
  maxMessagesPerSession: 10_000,
  maxSessionsPerIp: 1_000,
  longPoll: true,
  sweepIntervalMs: 60_000,
  defaultPollLimit: 200,
  maxPollLimit: 1000,
  /** One poll response's bytes at most; past it, fewer messages and hasMore. */
  maxPollBytes: 1024 * 1024,
} as const;

export type StoreSpec =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string; keyPrefix: string | undefined };

/** Parses `--store`; throws a RangeError naming the accepted forms. */
export function parseStore(
  store: string | undefined,
  dataDir: string | undefined,
  redisKeyPrefix?: string,
): StoreSpec {
  if (store === undefined) {
    return dataDir === undefined
      ? { kind: 'memory' }
      : { kind: 'sqlite', path: join(dataDir, 'relay.db') };
  }
  if (store === 'memory') return { kind: 'memory' };
  if (store === 'sqlite') {
    if (dataDir === undefined)
      throw new RangeError('--store sqlite needs --data-dir (or sqlite:PATH)');
    return { kind: 'sqlite', path: join(dataDir, 'relay.db') };
  }
  if (store.startsWith('sqlite:') && store.length > 'sqlite:'.length) {
    return { kind: 'sqlite', path: store.slice('sqlite:'.length) };
  }
  if (/^rediss?:\/\/[^/]+/.test(store)) {
    try {
      new URL(store);
    } catch {
      throw new RangeError(`--store ${store} is not a valid redis:// URL`);
    }
    return { kind: 'redis', url: store, keyPrefix: redisKeyPrefix };
  }
  throw new RangeError(
    `--store must be memory, sqlite:PATH or redis://HOST:PORT[/DB] (got "${store}")`,
  );
}

/** Options with every default filled in; what the relay's modules actually read. */
export interface ResolvedRelayOptions {
  host: string;
  port: number;
  store: StoreSpec;
  trustProxy: boolean;
  maxSessionsPerIp: number;
  publicUrl: string | undefined;
  maxTtlSeconds: number;
  maxAgents: number;
  defaultMaxAgents: number;
  agentInactivitySeconds: number;
  pairCodeTtlSeconds: number;
  rateLimitPerMinute: number;
  maxMessageBytes: number;
  maxMessagesPerSession: number;
  longPoll: boolean;
  clock: Clock;
  sweepIntervalMs: number;
  log: (line: string) => void;
}

function writeStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}

function atLeast(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${name} must be an integer of at least ${min} (got ${value})`);
  }
  return value;
}

export function resolveRelayOptions(options: RelayOptions = {}): ResolvedRelayOptions {
  const d = RELAY_DEFAULTS;
  const maxAgents = atLeast('maxAgents', options.maxAgents ?? d.maxAgents, 1);
  const port = options.port ?? d.port;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`port must be an integer between 0 and 65535 (got ${port})`);
  }
  return {
    host: options.host ?? d.host,
    port,
    store: parseStore(options.store, options.dataDir, options.redisKeyPrefix),
    trustProxy: options.trustProxy ?? false,
    maxSessionsPerIp: atLeast(
      'maxSessionsPerIp',
      options.maxSessionsPerIp ?? d.maxSessionsPerIp,
      0,
    ),
    publicUrl: options.publicUrl,
    maxTtlSeconds: atLeast('maxTtlSeconds', options.maxTtlSeconds ?? d.maxTtlSeconds, 60),
    maxAgents,
    // A default above the cap would be clamped on every create anyway.
    defaultMaxAgents: Math.min(
      atLeast('defaultMaxAgents', options.defaultMaxAgents ?? d.defaultMaxAgents, 1),
      maxAgents,
    ),
    agentInactivitySeconds: atLeast(
      'agentInactivitySeconds',
      options.agentInactivitySeconds ?? d.agentInactivitySeconds,
      0,
    ),
    pairCodeTtlSeconds: atLeast(
      'pairCodeTtlSeconds',
      options.pairCodeTtlSeconds ?? d.pairCodeTtlSeconds,
      1,
    ),
    rateLimitPerMinute: atLeast(
      'rateLimitPerMinute',
      options.rateLimitPerMinute ?? d.rateLimitPerMinute,
      0,
    ),
    maxMessageBytes: atLeast('maxMessageBytes', options.maxMessageBytes ?? d.maxMessageBytes, 64),
    maxMessagesPerSession: atLeast(
      'maxMessagesPerSession',
      options.maxMessagesPerSession ?? d.maxMessagesPerSession,
      1,
    ),
    longPoll: options.longPoll ?? d.longPoll,
    clock: options.clock ?? systemClock,
    sweepIntervalMs: atLeast('sweepIntervalMs', options.sweepIntervalMs ?? d.sweepIntervalMs, 1),
    log: options.log ?? writeStderr,
  };
}
