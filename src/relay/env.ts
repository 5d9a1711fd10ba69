import type { RelayOptions } from './options.js';

function intFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw))
    throw new RangeError(`${name} must be a non-negative integer (got "${raw}")`);
  return Number(raw);
}

function stringFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
}

function boolFromEnv(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new RangeError(`${name} must be 0 or 1 (got "${raw}")`);
}

/**
 * Reads the relay's environment variables. Unset or empty variables are left out, so the
 * defaults of `resolveRelayOptions` apply; malformed ones throw a RangeError naming the variable.
 */
export function loadRelayOptionsFromEnv(env: NodeJS.ProcessEnv): RelayOptions {
  const candidates: RelayOptions = {
    host: stringFromEnv(env, 'HOST'),
    port: intFromEnv(env, 'PORT'),
    store: stringFromEnv(env, 'RELAY_STORE'),
    dataDir: stringFromEnv(env, 'DATA_DIR'),
    trustProxy: boolFromEnv(env, 'TRUST_PROXY'),
    maxSessionsPerIp: intFromEnv(env, 'MAX_SESSIONS_PER_IP'),
    publicUrl: stringFromEnv(env, 'PUBLIC_URL'),
    maxTtlSeconds: intFromEnv(env, 'MAX_TTL_SECONDS'),
    maxAgents: intFromEnv(env, 'MAX_AGENTS'),
    defaultMaxAgents: intFromEnv(env, 'DEFAULT_MAX_AGENTS'),
    agentInactivitySeconds: intFromEnv(env, 'AGENT_INACTIVITY_SECONDS'),
    pairCodeTtlSeconds: intFromEnv(env, 'PAIR_CODE_TTL_SECONDS'),
    rateLimitPerMinute: intFromEnv(env, 'RATE_LIMIT_PER_MINUTE'),
    maxMessageBytes: intFromEnv(env, 'MAX_MESSAGE_BYTES'),
    maxMessagesPerSession: intFromEnv(env, 'MAX_MESSAGES_PER_SESSION'),
    longPoll: boolFromEnv(env, 'LONG_POLL'),
  };
  return Object.fromEntries(
    Object.entries(candidates).filter(([, value]) => value !== undefined),
  ) as RelayOptions;
}
