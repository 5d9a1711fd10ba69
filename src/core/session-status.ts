/**
 * What the relay says about sessions: the status of one, renewing one, and the list of all
 * local sessions probed live. Every answer refreshes what the store remembers ("last seen").
 */
import { mapLimit } from './concurrency.js';
import { clientError, isNexusError, NexusError, toNexusError } from './errors.js';
import { PROBE_TIMEOUT_MS } from './membership.js';
import type { Recovery, Rejoined } from './recovery.js';
import { type RelayClient, signalOpt } from './relay-client.js';
import type { SessionRegistry } from './session-registry.js';
import { type SessionInfo, sessionLabel, shortId, toSessionInfo } from './sessions.js';

const LIST_CONCURRENCY = 8;

export interface StatusResult {
  /** Absent for a session asked about by full id that this install does not hold. */
  session?: SessionInfo;
  /** How the session is named in output: its alias, else its short id. */
  label: string;
  server: string;
  state: string;
  members: string[];
  joined: boolean;
  ttl: number;
  maxAgents: number;
  expiresAt?: string;
  creatorAgentId?: string;
  rejoined?: Rejoined;
}

export interface RenewResult {
  session: SessionInfo;
  ttl: number;
  expiresAt: string;
  rejoined?: Rejoined;
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
    private readonly recovery: Recovery,
  ) {}

  /**
   * A local session's status; a full session id this install does not hold is asked about on
   * `server` (else the default relay): the status is public in the protocol.
   */
  async status(reference: string, signal?: AbortSignal, server?: string): Promise<StatusResult> {
    const remote = this.registry.unheld(reference, server);
    if (remote) {
      const { data } = await this.client.status(remote, signalOpt(signal));
      return {
        label: shortId(remote.sessionId),
        server: remote.server,
        state: data.state,
        members: data.agents,
        joined: false,
        ttl: data.ttl,
        maxAgents: data.maxAgents,
        ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
        ...(data.creatorAgentId ? { creatorAgentId: data.creatorAgentId } : {}),
      };
    }
    const session = this.registry.resolve(reference);
    const { data } = await this.recovery.run(
      session,
      (current) => this.client.status(current, signalOpt(signal)),
      signal,
    );
    const updated = this.registry.remember(session, data);
    const rejoined = this.recovery.take(session.sessionId);
    return {
      session: toSessionInfo(updated),
      label: sessionLabel(updated),
      server: updated.server,
      ...(rejoined && { rejoined }),
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
    let renewer = session;
    const { data } = await this.recovery.run(
      session,
      (current) => {
        renewer = current;
        return this.client.renew(current, ttl, signalOpt(signal));
      },
      signal,
    );
    const updated = this.registry.renewed(renewer, data);
    const rejoined = this.recovery.take(session.sessionId);
    return {
      session: toSessionInfo(updated),
      ttl: data.ttl,
      expiresAt: data.expiresAt,
      ...(rejoined && { rejoined }),
    };
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

  /** Who created a session, as its relay says (null: it names nobody), asked once, briefly. */
  async creatorOf(session: { server: string; sessionId: string }): Promise<string | null> {
    const { data } = await this.client.status(session, {
      timeoutMs: PROBE_TIMEOUT_MS,
      attempts: 1,
    });
    return data.creatorAgentId ?? null;
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
