/**
 * What the relay says about sessions: the status of one, renewing one, and the list of all
 * local sessions probed live. Every answer refreshes what the store remembers ("last seen").
 */
import { mapLimit } from './concurrency.js';
import { clientError, isNexusError, NexusError, toNexusError } from './errors.js';
import { PROBE_TIMEOUT_MS } from './membership.js';
import { type RelayClient, signalOpt } from './relay-client.js';
import type { SessionRegistry } from './session-registry.js';
import { type SessionInfo, toSessionInfo } from './sessions.js';

const LIST_CONCURRENCY = 8;

export interface StatusResult {
  session: SessionInfo;
  state: string;
  members: string[];
  joined: boolean;
  ttl: number;
  maxAgents: number;
  expiresAt?: string;
  creatorAgentId?: string;
}

export interface RenewResult {
  session: SessionInfo;
  ttl: number;
  expiresAt: string;
}

export type LiveStatus = 'active' | 'not_found' | 'unreachable' | 'error';

export interface ListEntry {
  session: SessionInfo;
  live: LiveStatus;
  member?: boolean;
  members?: string[];
  expiresAt?: string;
  error?: string;
}

export interface RelayHealth {
  version?: string;
  messageFormat: string[];
  longPoll: boolean;
}

export class SessionStatus {
  constructor(
    private readonly registry: SessionRegistry,
    private readonly client: RelayClient,
  ) {}

  async status(reference: string, signal?: AbortSignal): Promise<StatusResult> {
    const session = this.registry.resolve(reference);
    const { data } = await this.registry.withExpiry(session, () =>
      this.client.status(session, signalOpt(signal)),
    );
    const updated = this.registry.remember(session, data);
    return {
      session: toSessionInfo(updated),
      state: data.state,
      members: data.agents,
      joined: data.agents.includes(session.agentId),
      ttl: data.ttl,
      maxAgents: data.maxAgents,
      ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
      ...(data.creatorAgentId ? { creatorAgentId: data.creatorAgentId } : {}),
    };
  }

  async renew(reference: string, ttl?: number, signal?: AbortSignal): Promise<RenewResult> {
    const session = this.registry.resolve(reference);
    const { data } = await this.registry.withExpiry(session, () =>
      this.client.renew(session, ttl, signalOpt(signal)),
    );
    const updated = this.registry.renewed(session, data);
    return { session: toSessionInfo(updated), ttl: data.ttl, expiresAt: data.expiresAt };
  }

  /**
   * Local sessions with their live state, each probed on its own relay concurrently with a
   * short timeout. Sessions found expired more than a day ago are pruned first.
   */
  async list(options: { probe?: boolean; signal?: AbortSignal } = {}): Promise<ListEntry[]> {
    const sessions = this.registry.pruned();
    if (options.probe === false)
      return sessions.map((session) => ({
        session: toSessionInfo(session),
        live: session.expiredAt ? 'not_found' : 'active',
      }));
    return mapLimit(sessions, LIST_CONCURRENCY, async (session): Promise<ListEntry> => {
      try {
        const { data } = await this.client.status(session, {
          timeoutMs: PROBE_TIMEOUT_MS,
          attempts: 1,
          ...signalOpt(options.signal),
        });
        const updated = this.registry.remember(session, data);
        return {
          session: toSessionInfo(updated),
          live: 'active',
          member: data.agents.includes(session.agentId),
          members: data.agents,
          ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
        };
      } catch (error) {
        if (isNexusError(error, 'aborted')) throw error;
        const nexus =
          error instanceof NexusError ? error : clientError('network_error', String(error));
        if (nexus.code === 'session_not_found') {
          return { session: this.registry.markExpired(session), live: 'not_found' };
        }
        const live: LiveStatus =
          nexus.code === 'network_error' || nexus.code === 'timeout' ? 'unreachable' : 'error';
        return { session: toSessionInfo(session), live, error: `${nexus.code}: ${nexus.message}` };
      }
    });
  }

  /** A relay's /health, asked now with a short timeout; the error when it did not answer. */
  async health(server: string): Promise<RelayHealth | NexusError> {
    let answer: Awaited<ReturnType<RelayClient['health']>>;
    try {
      answer = await this.client.health(server, { timeoutMs: PROBE_TIMEOUT_MS, attempts: 1 });
    } catch (error) {
      return toNexusError(error);
    }
    const { data } = answer;
    return {
      ...(data.version !== undefined && { version: data.version }),
      messageFormat: data.capabilities.messageFormat,
      longPoll: data.capabilities.longPoll,
    };
  }
}
