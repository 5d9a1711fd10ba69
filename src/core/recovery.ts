/**
 * Recovery: the one wrapper every relay call on a stored session goes through (send, poll, the
 * watcher's fetches, status, renew, pairing). It marks sessions the relay no longer knows as
 * expired, and it heals a lost membership once, so the model never meets a dead end it cannot
 * leave by itself:
 * - removed for inactivity (`agent_not_in_session`, or `forbidden` from a relay that no longer
 *   lists the agent): rejoin under the same agent id;
 * - a key the relay refuses (`invalid_session_key`): rejoin under the same id when the relay no
 *   longer lists it, else under a derived fresh id (`<id>-2`, `<id>-3`…), since the old id is
 *   held by a key this store does not have.
 * The read position is kept, so what was sent in the gap is still delivered; the call is retried
 * once with the new membership, and the rejoin is reported by the next result for that session
 * (`take`). `NEXUS_AUTO_REJOIN=0` turns the automatic part off; `rejoin` (join_session with a
 * local reference) stays available.
 */
import { isAgentId } from '../protocol/index.js';
import { isNexusError, NexusError, type NexusErrorCode } from './errors.js';
import type { Logger } from './logger.js';
import { PROBE_TIMEOUT_MS } from './membership.js';
import { type RelayClient, signalOpt } from './relay-client.js';
import type { SessionRegistry } from './session-registry.js';
import { sessionLabel } from './sessions.js';
import type { StoredSession } from './store.js';

export type RejoinReason = 'agent_not_in_session' | 'invalid_session_key' | 'requested';

/** A membership recovered: the agent id it now speaks as, and why it had to rejoin. */
export interface Rejoined {
  agentId: string;
  previousAgentId: string;
  reason: RejoinReason;
}

export interface RejoinOptions {
  reason: RejoinReason;
  /** Rejoin under this id (replacing the stored membership) instead of the stored one. */
  agentId?: string;
  signal?: AbortSignal | undefined;
}

/** The most fresh ids tried after an id the relay still holds. */
const MAX_DERIVED = 20;

export class Recovery {
  private readonly notices = new Map<string, Rejoined>();
  /** Rejoins in flight, per session: concurrent calls that lost the membership share one. */
  private readonly inflight = new Map<string, Promise<StoredSession>>();

  constructor(
    private readonly registry: SessionRegistry,
    private readonly client: RelayClient,
    private readonly logger: Logger,
    private readonly auto: boolean,
  ) {}

  /**
   * Runs `call` against a session's relay. A `session_not_found` marks it expired; a lost
   * membership is rejoined once (when automatic recovery is on) and the call retried with it.
   */
  async run<T>(
    session: StoredSession,
    call: (session: StoredSession) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    try {
      return await this.registry.withExpiry(session, () => call(session));
    } catch (error) {
      if (!isNexusError(error) || signal?.aborted) throw error;
      const reason = await this.lostMembership(session, error, signal);
      if (!reason) throw error;
      if (!this.auto) throw this.manual(session, reason, error);
      const current = await this.recover(session, reason, signal);
      return this.registry.withExpiry(current, () => call(current));
    }
  }

  /** With automatic recovery off: the lost membership, and the call that brings it back. */
  private manual(session: StoredSession, reason: RejoinReason, error: NexusError): NexusError {
    const label = sessionLabel(session);
    return new NexusError({
      code: reason === 'invalid_session_key' ? 'invalid_session_key' : 'agent_not_in_session',
      message:
        reason === 'invalid_session_key'
          ? `The relay refused this install's key for session ${label} (${session.agentId} is held by another key).`
          : `This agent (${session.agentId}) is no longer a member of session ${label}, probably removed for inactivity.`,
      hint:
        reason === 'invalid_session_key'
          ? `Call join_session with session_id "${label}" and another agent_id (e.g. "${freshId(session.agentId, [session.agentId])}"); the read position is kept.`
          : `Call join_session with session_id "${label}" to join again; the read position is kept, so nothing sent meanwhile is missed.`,
      ...(error.status !== undefined && { status: error.status }),
      ...(error.requestId !== undefined && { requestId: error.requestId }),
    });
  }

  /** The rejoin not yet reported for a session, once: the next result for it carries it. */
  take(sessionId: string): Rejoined | undefined {
    const notice = this.notices.get(sessionId);
    this.notices.delete(sessionId);
    return notice;
  }

  /**
   * Joins a stored session again on its bound relay, keeping its read position, alias and
   * binding; under `agentId` when given (the stored membership is replaced).
   */
  async rejoin(session: StoredSession, options: RejoinOptions): Promise<StoredSession> {
    const { signal } = options;
    let agentId = options.agentId ?? session.agentId;
    let members: string[] | undefined;
    if (options.agentId === undefined && options.reason === 'invalid_session_key') {
      members = await this.members(session, signal);
      // The old id is held by a key this store does not have: speak under a fresh one.
      if (members.includes(agentId)) agentId = freshId(agentId, members);
    }
    let key: string;
    try {
      key = (await this.client.join({ ...session, agentId }, signalOpt(signal))).data.sessionKey;
    } catch (error) {
      if (!isNexusError(error, 'agent_id_taken') || options.agentId !== undefined)
        throw this.failed(session, options.reason, error);
      // Someone took the id in between (another process of this store, perhaps).
      const stored = this.registry.get(session.sessionId);
      if (stored && stored.sessionKey !== session.sessionKey) return stored;
      members ??= await this.members(session, signal);
      agentId = freshId(agentId, [...members, agentId]);
      try {
        key = (await this.client.join({ ...session, agentId }, signalOpt(signal))).data.sessionKey;
      } catch (second) {
        throw this.failed(session, options.reason, second);
      }
    }
    const updated = this.registry.rekey(session, {
      agentId,
      sessionKey: key,
      role: session.role === 'creator' && agentId === session.agentId ? 'creator' : 'member',
    });
    const notice = { agentId, previousAgentId: session.agentId, reason: options.reason };
    this.notices.set(session.sessionId, notice);
    this.logger.info(
      `Rejoined session ${sessionLabel(session)} as ${agentId}${agentId === session.agentId ? '' : ` (was ${session.agentId})`} (${options.reason}).`,
    );
    return updated;
  }

  private recover(
    session: StoredSession,
    reason: RejoinReason,
    signal: AbortSignal | undefined,
  ): Promise<StoredSession> {
    const running = this.inflight.get(session.sessionId);
    if (running) return running;
    // Another call (or process) may have rejoined already: use its membership.
    const stored = this.registry.get(session.sessionId);
    if (stored && stored.sessionKey !== session.sessionKey) return Promise.resolve(stored);
    const rejoin = this.rejoin(session, { reason, signal }).finally(() =>
      this.inflight.delete(session.sessionId),
    );
    this.inflight.set(session.sessionId, rejoin);
    return rejoin;
  }

  /** Why an error means the membership is lost, or undefined when it does not. */
  private async lostMembership(
    session: StoredSession,
    error: NexusError,
    signal: AbortSignal | undefined,
  ): Promise<RejoinReason | undefined> {
    if (error.code === 'agent_not_in_session') return 'agent_not_in_session';
    if (error.code !== 'forbidden' && error.code !== 'invalid_session_key') return undefined;
    // Only the public status tells a lost membership from a refusal that stands.
    const members = await this.members(session, signal).catch(() => undefined);
    if (!members) return undefined;
    if (!members.includes(session.agentId)) return 'agent_not_in_session';
    return error.code === 'invalid_session_key' ? 'invalid_session_key' : undefined;
  }

  private async members(session: StoredSession, signal: AbortSignal | undefined) {
    const { data } = await this.registry.withExpiry(session, () =>
      this.client.status(session, { timeoutMs: PROBE_TIMEOUT_MS, ...signalOpt(signal) }),
    );
    return data.agents;
  }

  /** The rejoin's own failure, said as what happened and what to do. */
  private failed(session: StoredSession, reason: RejoinReason, error: unknown): NexusError {
    if (!(error instanceof NexusError) || error.code === 'aborted') return error as NexusError;
    const label = sessionLabel(session);
    const why =
      reason === 'invalid_session_key'
        ? `The relay refused this install's key for session ${label}`
        : reason === 'agent_not_in_session'
          ? `This agent (${session.agentId}) was removed from session ${label}, probably for inactivity`
          : `Joining session ${label} again`;
    const what: Partial<Record<NexusErrorCode, string>> = {
      session_not_found: 'the session has expired on its relay',
      session_full: 'the session is full',
      forbidden: 'the relay lets only the creator add agents',
      agent_id_taken: 'that agent id is taken by another agent',
    };
    const hints: Partial<Record<NexusErrorCode, string>> = {
      session_not_found:
        'Tell the human the session is over; create_session starts a new one (leave_session with forget: true drops this one).',
      session_full:
        'Ask the other side to make room, or to create a new session and send a pairing link.',
      forbidden: 'Ask the creator of the session for a new pairing code or link.',
      agent_id_taken: 'Call join_session with this session and another agent_id.',
    };
    if (error.code === 'session_not_found') this.registry.markExpired(session);
    return new NexusError({
      code: error.code,
      message: `${why}, and rejoining failed: ${what[error.code] ?? error.message}.`,
      hint: hints[error.code] ?? error.hint,
      ...(error.status !== undefined && { status: error.status }),
      ...(error.requestId !== undefined && { requestId: error.requestId }),
      retryable: error.retryable,
    });
  }
}

/** `<id>-2`, `<id>-3`…: the first not in `taken`, within the agent id's length limit. */
export function freshId(agentId: string, taken: readonly string[]): string {
  const match = /^(.*)-(\d+)$/.exec(agentId);
  const base = match?.[1] ?? agentId;
  let n = match ? Number(match[2]) + 1 : 2;
  for (let tries = 0; tries < MAX_DERIVED; tries++, n++) {
    const suffix = `-${n}`;
    const candidate = `${base.slice(0, 128 - suffix.length)}${suffix}`;
    if (isAgentId(candidate) && !taken.includes(candidate)) return candidate;
  }
  return `${base.slice(0, 120)}-${Date.now().toString(36).slice(-6)}`;
}
