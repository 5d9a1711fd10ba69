/** Settings the core reads from the environment and the command line, resolved once. */
import { randomBytes } from 'node:crypto';
import {
  cutReference,
  isAgentId,
  normalizeServerUrl,
  withoutCredentials,
} from '../protocol/index.js';
import { clientError } from './errors.js';
import { DEFAULT_HTTP_TIMEOUT_MS } from './http-transport.js';

export const PUBLIC_RELAY_URL = 'https://messaging.md';
const DEFAULT_POLL_INTERVAL_MS = 1_000;

export interface CoreConfig {
  /** `--url`, then `NEXUS_URL`; the store's saved URL and the public relay come after. */
  url?: string;
  agentId?: string;
  home?: string;
  httpTimeoutMs: number;
  pollIntervalMs: number;
  /**
   * Redact secrets from outgoing bodies before any send; unset means on. Only
   * `NEXUS_CLIENT_REDACTION=off` turns it off: a human setting, never a tool argument, so
   * injected text cannot switch it off.
   */
  clientRedaction?: boolean;
  /** `NEXUS_E2E=on`: new sessions are end-to-end encrypted unless `create_session` says `e2e: false`. */
  e2e?: boolean;
  /** `NEXUS_REQUESTS_PER_MINUTE`: requests a minute to each relay (0: no limit). */
  requestsPerMinute?: number;
  /** `NEXUS_AUTO_REJOIN=0` turns off rejoining a lost membership by itself; unset means on. */
  autoRejoin?: boolean;
}

export function configFromEnv(env: NodeJS.ProcessEnv, flags: { url?: string } = {}): CoreConfig {
  const url = flags.url ?? nonEmpty(env.NEXUS_URL);
  const agentId = nonEmpty(env.NEXUS_AGENT_ID);
  if (agentId !== undefined && !isAgentId(agentId)) {
    throw clientError(
      'invalid_argument',
      'NEXUS_AGENT_ID may hold only letters, digits, - and _ (at most 128 characters).',
    );
  }
  return {
    ...(url !== undefined && { url: checkedUrl(url, flags.url ? '--url' : 'NEXUS_URL') }),
    ...(agentId !== undefined && { agentId }),
    ...(nonEmpty(env.NEXUS_MCP_HOME) !== undefined && { home: nonEmpty(env.NEXUS_MCP_HOME) }),
    httpTimeoutMs: positiveInt(
      env.NEXUS_HTTP_TIMEOUT_MS,
      DEFAULT_HTTP_TIMEOUT_MS,
      'NEXUS_HTTP_TIMEOUT_MS',
    ),
    pollIntervalMs: positiveInt(
      env.NEXUS_POLL_INTERVAL_MS,
      DEFAULT_POLL_INTERVAL_MS,
      'NEXUS_POLL_INTERVAL_MS',
    ),
    clientRedaction: onOff(env.NEXUS_CLIENT_REDACTION, true, 'NEXUS_CLIENT_REDACTION'),
    autoRejoin: flag(env.NEXUS_AUTO_REJOIN, true, 'NEXUS_AUTO_REJOIN'),
    e2e: onOff(env.NEXUS_E2E, false, 'NEXUS_E2E'),
    ...(nonEmpty(env.NEXUS_REQUESTS_PER_MINUTE) !== undefined && {
      requestsPerMinute: wholeNumber(env.NEXUS_REQUESTS_PER_MINUTE, 'NEXUS_REQUESTS_PER_MINUTE'),
    }),
  };
}

export function checkedUrl(url: string, source: string): string {
  try {
    return normalizeServerUrl(url);
  } catch {
    throw clientError(
      'invalid_argument',
      `${source} is not an http(s) URL without credentials: ${cutReference(withoutCredentials(url))}.`,
    );
  }
}

/** Readable and unlikely to collide: `agent-` and six base-36 characters. */
export function generateAgentId(): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return `agent-${[...randomBytes(6)].map((byte) => alphabet[byte % 36]).join('')}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (nonEmpty(value) === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) {
    throw clientError(
      'invalid_argument',
      `${name} must be a positive whole number of milliseconds.`,
    );
  }
  return parsed;
}

function onOff(value: string | undefined, fallback: boolean, name: string): boolean {
  const setting = nonEmpty(value)?.toLowerCase();
  if (setting === undefined) return fallback;
  if (setting === 'on' || setting === 'off') return setting === 'on';
  throw clientError('invalid_argument', `${name} must be on or off.`);
}

function flag(value: string | undefined, fallback: boolean, name: string): boolean {
  const setting = nonEmpty(value)?.toLowerCase();
  if (setting === undefined) return fallback;
  if (['1', 'on', 'true', 'yes'].includes(setting)) return true;
  if (['0', 'off', 'false', 'no'].includes(setting)) return false;
  throw clientError('invalid_argument', `${name} must be 1 or 0 (on or off).`);
}

function wholeNumber(value: string | undefined, name: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) {
    throw clientError('invalid_argument', `${name} must be a whole number (0 for no limit).`);
  }
  return parsed;
}
