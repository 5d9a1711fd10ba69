/**
 * Getting into and out of sessions: create, join, claim a pairing code, leave, and the pairing
 * codes themselves. Each new membership is stored with its key, bound to the relay it was
 * acquired on, reading from before the first message.
 */
import {
  E2E_NOTICE_GREETING,
  E2eKey,
  newE2eRecord,
  recordKey,
  withE2eFragment,
} from '../protocol/e2e/index.js';
import { isSessionId } from '../protocol/index.js';
import { clientError, isNexusError, NexusError } from './errors.js';
import type { Logger } from './logger.js';
import { GREETING_CURSOR } from './messages.js';
import type { Recovery, Rejoined } from './recovery.js';
import { type RelayClient, signalOpt } from './relay-client.js';
import type { SessionRegistry } from './session-registry.js';
import { type SessionInfo, sessionLabel, shortId, toSessionInfo } from './sessions.js';
import type { StoredSession } from './store.js';

/** Probes made on the way (status after a join, the greeting) wait this long at most. */
export const PROBE_TIMEOUT_MS = 3_000;

export interface Greeting {
  from: string;
  text: string;
}

export interface PairingInfo {
  code: string;
  url: string;
  expiresAt?: string;
}

export interface CreateOptions {
  ttl?: number;
  maxAgents?: number;
  greeting?: string;
  agentId?: string;
  alias?: string;
  pair?: boolean;
  server?: string;
  /** End-to-end encrypted: a new key, the relay's greeting only a fixed notice. */
  e2e?: boolean;
  signal?: AbortSignal;
}

export interface CreateResult {
  session: SessionInfo;
  ttl: number;
  maxAgents: number;
  expiresAt?: string;
  pairing?: PairingInfo;
  /** Set when the session was created but the pairing code could not be: retry pairing alone. */
  pairingError?: NexusError;
  /** Set when an encrypted session was created but its greeting envelope could not be sent. */
  greetingError?: NexusError;
}

export interface JoinOptions {
  /** A full session id, or a local reference (alias, short id, id prefix) to join again. */
  sessionId: string;
  server?: string;
  agentId?: string;
  alias?: string;
  signal?: AbortSignal;
}

export interface JoinResult {
  session: SessionInfo;
  greeting?: Greeting;
  members?: string[];
  /** We were already a member under this agent id: nothing changed. */
  alreadyJoined: boolean;
  /** The agent id of an earlier membership in this session that the store no longer holds. */
  replaced?: string;
  /** A stored session joined again (its read position kept). */
  rejoined?: Rejoined;
  /** The link's end-to-end key was new to this session and is now stored. */
  keyAttached?: boolean;
}

export interface ClaimOptions {
  code: string;
  agentId?: string;
  alias?: string;
  signal?: AbortSignal;
}

export interface LeaveResult {
  session: SessionInfo;
  /**
   * How the relay answered: removed now, or already gone (expired, or no longer a member);
   * `forgotten`: dropped from the local store only, without asking the relay.
   */
  outcome: 'removed' | 'already_gone' | 'forgotten';
}

export interface LeaveOptions {
  /** Drop the session from the local store without a relay call (the only way for a creator). */
  forget?: boolean;
  signal?: AbortSignal;
}

export interface PairStatusResult {
  code: string;
  server: string;
  state: 'pending' | 'claimed' | 'expired';
  expiresAt?: string;
}

/** The membership being adopted, and what the relay answered the join or claim with. */
interface Adopted {
  sessionId: string;
  server: string;
  agentId: string;
  alias: string | undefined;
  signal: AbortSignal | undefined;
}

interface Admission {
  sessionKey: string;
  greeting?: string | null | undefined;
}

export class Membership {
  constructor(
    private readonly registry: SessionRegistry,
    private readonly client: RelayClient,
    private readonly logger: Logger,
    private readonly recovery: Recovery,
  ) {}

  async create(options: CreateOptions = {}): Promise<CreateResult> {
    const server = this.registry.serverArg(options.server);
    const agentId = this.registry.agentIdArg(options.agentId);
    const alias = this.registry.aliasArg(options.alias);
    // The user's greeting of an encrypted session travels as its first envelope (the manager's).
    const key = options.e2e ? E2eKey.generate() : undefined;
    const greeting = key ? E2E_NOTICE_GREETING : options.greeting;
    const { data } = await this.client.create(
      server,
      {
        ...(options.ttl !== undefined && { ttl: options.ttl }),
        ...(options.maxAgents !== undefined && { maxAgents: options.maxAgents }),
        ...(greeting && { greeting }),
        creatorAgentId: agentId,
      },
      signalOpt(options.signal),
    );
    // A relay that ignores creatorAgentId hands out no key: join like anyone else.
    const sessionKey =
      data.sessionKey ??
      (
        await this.client.join(
          { server, sessionId: data.sessionId, agentId },
          signalOpt(options.signal),
        )
      ).data.sessionKey;
    const now = this.registry.isoNow();
    const stored: StoredSession = {
      sessionId: data.sessionId,
      server,
      agentId,
      sessionKey,
      cursor: GREETING_CURSOR,
      ...(alias !== undefined && { alias }),
      role: 'creator',
      createdAt: now,
      lastUsedAt: now,
      creatorAgentId: agentId,
      lastSeen: {
        members: [agentId],
        ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
        maxAgents: data.maxAgents,
        ttl: data.ttl,
        checkedAt: now,
      },
      ...(key && { e2e: newE2eRecord(key) }),
    };
    this.registry.put(stored, 'created');
    this.logger.info(`Created session ${sessionLabel(stored)} on ${server}.`);

    const result: CreateResult = {
      session: toSessionInfo(stored),
      ttl: data.ttl,
      maxAgents: data.maxAgents,
      ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
    };
    if (options.pair) {
      try {
        result.pairing = await this.pairStored(stored, options.signal);
      } catch (error) {
        if (isNexusError(error, 'aborted')) throw error;
        result.pairingError =
          error instanceof NexusError ? error : clientError('network_error', 'Pairing failed.');
      }
    }
    return result;
  }

  async join(options: JoinOptions): Promise<JoinResult> {
    const reference = options.sessionId.trim();
    const local = this.registry.lookup(reference);
    if (
      local &&
      (options.server === undefined || this.registry.serverArg(options.server) === local.server)
    ) {
      return this.joinAgain(local, options);
    }
    const sessionId = reference;
    if (!isSessionId(sessionId)) {
      throw clientError(
        'invalid_argument',
        'That is neither a full session id nor a local session (alias or short id): ask for the whole id, or for a pairing code or link; list_sessions shows the local sessions.',
      );
    }
    const server = this.registry.serverArg(options.server);
    const agentId = this.registry.agentIdArg(options.agentId);
    const alias = this.registry.aliasArg(options.alias);
    const { data } = await this.client.join(
      { server, sessionId, agentId },
      signalOpt(options.signal),
    );
    return this.adopt(
      { sessionId, server, agentId, alias, signal: options.signal },
      data,
      'joined',
    );
  }

  async claim(options: ClaimOptions): Promise<JoinResult & { code: string }> {
    const reference = this.registry.pairingArg(options.code);
    const server = reference.server ?? this.registry.defaultServer();
    const agentId = this.registry.agentIdArg(options.agentId);
    const alias = this.registry.aliasArg(options.alias);
    const { data } = await this.client.claim(
      server,
      reference.code,
      agentId,
      signalOpt(options.signal),
    );
    const { sessionId } = data;
    const target = { sessionId, server, agentId, alias, signal: options.signal };
    const joined = await this.adopt(target, data, 'claimed');
    return { ...joined, code: reference.code };
  }

  async leave(reference: string, options: LeaveOptions = {}): Promise<LeaveResult> {
    const { signal } = options;
    const session = this.registry.resolve(reference);
    if (options.forget) {
      this.registry.remove(session.sessionId, 'left');
      this.logger.info(`Forgot session ${sessionLabel(session)} locally (no relay call).`);
      return { session: toSessionInfo(session), outcome: 'forgotten' };
    }
    let outcome: LeaveResult['outcome'] = 'removed';
    try {
      await this.client.leave(session, signalOpt(signal));
    } catch (error) {
      if (!(error instanceof NexusError)) throw error;
      if (error.code === 'session_not_found' || error.code === 'agent_not_found') {
        outcome = 'already_gone';
      } else if (error.code === 'invalid_session_key') {
        // Only the public status can tell a lost membership from a real key problem.
        const stillMember = await this.client
          .status(session, { timeoutMs: PROBE_TIMEOUT_MS, ...signalOpt(signal) })
          .then(({ data }) => data.agents.includes(session.agentId))
          .catch((statusError: unknown) => {
            if (isNexusError(statusError, 'session_not_found')) return false;
            throw error;
          });
        if (stillMember) throw error;
        outcome = 'already_gone';
      } else if (error.code === 'forbidden') {
        throw clientError(
          'creator_cannot_leave',
          `This agent created session ${sessionLabel(session)} and cannot leave it on the relay; it ends when its TTL runs out without activity.`,
          {
            ...(error.status !== undefined && { status: error.status }),
            ...(error.requestId !== undefined && { requestId: error.requestId }),
          },
        );
      } else {
        throw error;
      }
    }
    this.registry.remove(session.sessionId, 'left');
    return { session: toSessionInfo(session), outcome };
  }

  /**
   * A pairing code for a local session, or for a full session id this install does not hold
   * (on `server`, else the default relay): the protocol lets anyone who knows the id make one.
   */
  async pair(
    reference: string,
    signal?: AbortSignal,
    server?: string,
  ): Promise<PairingInfo & { session?: SessionInfo; label: string }> {
    const remote = this.registry.unheld(reference, server);
    if (remote) {
      const pairing = await this.pairStored(remote, signal);
      return { ...pairing, label: shortId(remote.sessionId) };
    }
    const session = this.registry.resolve(reference);
    const pairing = await this.recovery.run(
      session,
      (current) => this.pairStored(current, signal),
      signal,
    );
    return { ...pairing, session: toSessionInfo(session), label: sessionLabel(session) };
  }

  async pairStatus(code: string, signal?: AbortSignal): Promise<PairStatusResult> {
    const reference = this.registry.pairingArg(code);
    const server = reference.server ?? this.registry.defaultServer();
    const { data } = await this.client.pairStatus(server, reference.code, signalOpt(signal));
    return {
      code: reference.code,
      server,
      state: data.state,
      ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
    };
  }

  private async adopt(
    target: Adopted,
    admission: Admission,
    reason: 'joined' | 'claimed',
  ): Promise<JoinResult> {
    const joined = { ...target, ...admission };
    const { sessionId, server, agentId, signal } = joined;
    const probe = { timeoutMs: PROBE_TIMEOUT_MS, attempts: 1, ...signalOpt(signal) };
    const status = await this.client
      .status({ server, sessionId }, probe)
      .then(({ data }) => data)
      .catch(() => undefined);
    const creatorAgentId = status?.creatorAgentId ?? undefined;
    let greetingText = joined.greeting ?? undefined;
    if (joined.greeting === undefined) {
      // Relays that do not return the greeting on join keep it at cursor 0: read it without `after`.
      greetingText = await this.client
        .poll({ server, sessionId, agentId }, {}, probe)
        .then(
          ({ data }) => data.messages.find((message) => message.cursor === GREETING_CURSOR)?.text,
        )
        .catch(() => undefined);
    }
    const existing = this.registry.get(sessionId);
    const replaced =
      existing && !existing.expiredAt && existing.agentId !== agentId
        ? existing.agentId
        : undefined;
    if (replaced) {
      this.logger.warn(
        `Session ${sessionLabel(existing ?? { sessionId })} was held as ${replaced}; it is now held as ${agentId}.`,
      );
    }
    const now = this.registry.isoNow();
    const stored: StoredSession = {
      sessionId,
      server,
      agentId,
      sessionKey: joined.sessionKey,
      // A joiner starts before the first message: its first poll brings everything since.
      cursor: GREETING_CURSOR,
      ...(joined.alias !== undefined
        ? { alias: joined.alias }
        : existing?.alias !== undefined
          ? { alias: existing.alias }
          : {}),
      role: 'member',
      createdAt: now,
      lastUsedAt: now,
      ...(creatorAgentId ? { creatorAgentId } : {}),
      ...(status && {
        lastSeen: {
          members: status.agents,
          ...(status.expiresAt !== undefined && { expiresAt: status.expiresAt }),
          maxAgents: status.maxAgents,
          ttl: status.ttl,
          checkedAt: now,
        },
      }),
      ...(e2eCarried(existing, agentId, greetingText) ?? {}),
    };
    this.registry.put(stored, reason);
    this.logger.info(
      `${reason === 'claimed' ? 'Claimed a pairing code for' : 'Joined'} session ${sessionLabel(stored)} on ${server}.`,
    );
    return {
      session: toSessionInfo(stored),
      ...(greetingText
        ? { greeting: { from: creatorAgentId ?? 'session creator', text: greetingText } }
        : {}),
      ...(status && { members: status.agents }),
      alreadyJoined: false,
      ...(replaced !== undefined && { replaced }),
    };
  }

  /**
   * join_session with a local reference: nothing to do while the stored membership stands;
   * otherwise join again on the bound relay, keeping the read position. With another agent id
   * the stored membership is replaced (and the old one left on the relay where it can be).
   */
  private async joinAgain(local: StoredSession, options: JoinOptions): Promise<JoinResult> {
    const { signal } = options;
    const agentId =
      options.agentId === undefined || options.agentId.trim() === ''
        ? local.agentId
        : this.registry.agentIdArg(options.agentId);
    const alias =
      options.alias === undefined || options.alias.trim() === local.alias
        ? undefined
        : this.registry.aliasArg(options.alias);
    const { data } = await this.registry.withExpiry(local, () =>
      this.client.status(local, signalOpt(signal)),
    );
    const named = () =>
      alias !== undefined ? this.registry.setAlias(local.sessionId, alias) : undefined;
    if (agentId === local.agentId && data.agents.includes(agentId)) {
      return {
        session: named() ?? toSessionInfo(local),
        members: data.agents,
        alreadyJoined: true,
      };
    }
    const replacing = agentId !== local.agentId;
    const updated = await this.recovery.rejoin(local, {
      reason: 'requested',
      ...(replacing && { agentId }),
      signal,
    });
    // Reported here, not again by the next call.
    const rejoined = this.recovery.take(local.sessionId);
    let left = false;
    if (replacing && data.agents.includes(local.agentId) && local.role !== 'creator') {
      // Best effort: the old membership would otherwise linger until inactivity removes it.
      left = await this.client
        .leave(local, { timeoutMs: PROBE_TIMEOUT_MS, ...signalOpt(signal) })
        .then(
          () => true,
          (error: unknown) => {
            this.logger.debug(`Leaving as ${local.agentId} failed: ${String(error)}`);
            return false;
          },
        );
    }
    const members = [...data.agents.filter((id) => !left || id !== local.agentId), agentId];
    return {
      session: named() ?? toSessionInfo(updated),
      members: [...new Set(members)],
      alreadyJoined: false,
      ...(replacing && { replaced: local.agentId }),
      ...(rejoined && { rejoined }),
    };
  }

  private async pairStored(
    session: Pick<StoredSession, 'server' | 'sessionId'> & Partial<Pick<StoredSession, 'e2e'>>,
    signal?: AbortSignal,
  ): Promise<PairingInfo> {
    const { data } = await this.client.pair(session, signalOpt(signal));
    const url = data.url ?? `${session.server}/p/${data.code}`;
    // Any key holder may invite: the link carries the key in its fragment, never sent to a relay.
    const key = session.e2e && recordKey(session.e2e);
    return {
      code: data.code,
      url: key ? withE2eFragment(url, key) : url,
      ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
    };
  }
}

/**
 * What a new membership keeps of the session's encryption: the record of the same agent as it
 * was (its `seq` must never restart, or peers would see replays), the key for another agent id,
 * or, for a session whose relay greeting is the encryption notice, a record awaiting the key.
 */
function e2eCarried(
  existing: StoredSession | undefined,
  agentId: string,
  greeting: string | null | undefined,
): Pick<StoredSession, 'e2e'> | undefined {
  if (existing?.e2e) {
    if (existing.agentId === agentId) return { e2e: existing.e2e };
    return { e2e: newE2eRecord(recordKey(existing.e2e)) };
  }
  return greeting === E2E_NOTICE_GREETING ? { e2e: newE2eRecord(undefined) } : undefined;
}
