/**
 * The session manager: every protocol operation as the user means it, on top of the relay
 * client and the store. It binds each session to the relay it was acquired on, keeps keys out
 * of sight, and owns cursor discipline (DESIGN.md, "Client semantics").
 */
import { EventEmitter } from 'node:events';
import {
  compareCursors,
  cutReference,
  isAgentId,
  isCursor,
  isSessionId,
  type Member,
  type Message,
  readPairingInput,
  type SendRequest,
} from '../protocol/index.js';
import { type Clock, systemClock } from './clock.js';
import { mapLimit } from './concurrency.js';
import { checkedUrl, generateAgentId, PUBLIC_RELAY_URL } from './config.js';
import { clientError, isNexusError, NexusError, quoted } from './errors.js';
import type { Logger } from './logger.js';
import {
  GREETING_CURSOR,
  type MessageView,
  messageSize,
  takeWithinBudget,
  toMessageView,
} from './messages.js';
import type { Capabilities, RelayClient } from './relay-client.js';
import {
  resolveReference,
  type SessionInfo,
  sessionLabel,
  shortId,
  toSessionInfo,
  validateAlias,
} from './sessions.js';
import type { SessionStore, StoredSession } from './store.js';

export const EXPIRED_RETENTION_MS = 24 * 60 * 60_000;
export const DEFAULT_POLL_LIMIT = 50;
export const DEFAULT_BUDGET_CHARS = 20_000;
const PROBE_TIMEOUT_MS = 3_000;
const POLL_ALL_CONCURRENCY = 8;

export interface ManagerOptions {
  store: SessionStore;
  client: RelayClient;
  logger: Logger;
  /** `--url` / `NEXUS_URL`, already normalised. */
  url?: string;
  /** `NEXUS_AGENT_ID`. */
  agentId?: string;
  clock?: Clock;
}

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
}

export interface JoinResult {
  session: SessionInfo;
  greeting?: Greeting;
  members?: string[];
  /** We were already a member under this agent id: nothing changed. */
  alreadyJoined: boolean;
  /** The agent id of an earlier membership in this session that the store no longer holds. */
  replaced?: string;
}

export interface LeaveResult {
  session: SessionInfo;
  /** How the relay answered: removed now, or already gone (expired, or no longer a member). */
  outcome: 'removed' | 'already_gone';
}

export interface SendOptions {
  text?: string;
  json?: unknown;
  /** Refuse rather than fold a JSON payload into the text on a text-only relay. */
  strict?: boolean;
  signal?: AbortSignal;
}

export interface SendResult {
  session: SessionInfo;
  id: string;
  cursor: string;
  verified: boolean;
  redacted: number;
  /** `json`: sent natively; `folded`: the payload went into the text (text-only relay). */
  format: 'text' | 'json' | 'folded';
}

export interface PollOptions {
  /** Replay from here without moving the stored cursor; `"0"` replays everything. */
  after?: string;
  members?: boolean;
  limit?: number;
  budgetChars?: number;
  signal?: AbortSignal;
}

export interface PollResult {
  session: SessionInfo;
  messages: MessageView[];
  /** The cursor to continue from: the stored cursor now, or the replay's position. */
  cursor: string;
  hasMore: boolean;
  replay: boolean;
  members?: Member[];
}

export interface PollAllResult {
  results: PollResult[];
  errors: { session: SessionInfo; error: NexusError }[];
  hasMore: boolean;
}

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

export type LiveStatus = 'active' | 'not_found' | 'unreachable' | 'error';

export interface ListEntry {
  session: SessionInfo;
  live: LiveStatus;
  member?: boolean;
  members?: string[];
  expiresAt?: string;
  error?: string;
}

export interface PairStatusResult {
  code: string;
  server: string;
  state: 'pending' | 'claimed' | 'expired';
  expiresAt?: string;
}

/** A batch fetched but not yet handed over: the caller commits what it shows. */
export interface FetchedBatch {
  session: StoredSession;
  /** The `after` the batch was fetched with; absent for a replay from the very start. */
  after?: string;
  messages: Message[];
  nextCursor?: string;
  members?: Member[];
}

type ManagerEvents = {
  'sessions-changed': [reason: string];
  'session-expired': [session: SessionInfo];
};

export class SessionManager {
  readonly events = new EventEmitter<ManagerEvents>();
  readonly store: SessionStore;
  readonly client: RelayClient;
  private readonly logger: Logger;
  private readonly url: string | undefined;
  private readonly agentIdOverride: string | undefined;
  private readonly clock: Clock;

  constructor(options: ManagerOptions) {
    this.store = options.store;
    this.client = options.client;
    this.logger = options.logger;
    this.url = options.url;
    this.agentIdOverride = options.agentId;
    this.clock = options.clock ?? systemClock;
  }

  // ---- identity and references ------------------------------------------------------------

  /** `--url`, else `NEXUS_URL`, else the URL saved in the store, else the public relay. */
  defaultServer(): string {
    return this.url ?? this.store.read().defaultServer ?? PUBLIC_RELAY_URL;
  }

  defaultAgentId(): string {
    return this.agentIdOverride ?? this.store.defaultAgentId(generateAgentId);
  }

  sessions(): SessionInfo[] {
    return this.store.all().map(toSessionInfo);
  }

  resolve(reference: string): StoredSession {
    return resolveReference(this.store.all(), reference);
  }

  info(reference: string): SessionInfo {
    return toSessionInfo(this.resolve(reference));
  }

  // ---- create, join, claim, leave ---------------------------------------------------------

  async create(options: CreateOptions = {}): Promise<CreateResult> {
    const server = options.server ? checkedUrl(options.server, 'server') : this.defaultServer();
    const agentId = this.agentIdArg(options.agentId);
    const alias = this.aliasArg(options.alias);
    const { data } = await this.client.create(
      server,
      {
        ...(options.ttl !== undefined && { ttl: options.ttl }),
        ...(options.maxAgents !== undefined && { maxAgents: options.maxAgents }),
        ...(options.greeting && { greeting: options.greeting }),
        creatorAgentId: agentId,
      },
      signalOpt(options.signal),
    );
    // A relay that ignores creatorAgentId hands out no key: join like anyone else.
    const sessionKey =
      data.sessionKey ??
      (await this.client.join(server, data.sessionId, agentId, signalOpt(options.signal))).data
        .sessionKey;
    const now = this.isoNow();
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
    };
    this.store.put(stored);
    this.events.emit('sessions-changed', 'created');
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

  async join(options: {
    sessionId: string;
    server?: string;
    agentId?: string;
    alias?: string;
    signal?: AbortSignal;
  }): Promise<JoinResult> {
    const sessionId = options.sessionId.trim();
    if (!isSessionId(sessionId)) {
      throw clientError(
        'invalid_argument',
        'That is not a full session id: ask for the whole id, or for a pairing code or link instead.',
      );
    }
    const server = options.server ? checkedUrl(options.server, 'server') : this.defaultServer();
    const agentId = this.agentIdArg(options.agentId);
    const alias = this.aliasArg(options.alias);
    const local = this.store.get(sessionId);
    if (local && local.server === server && !local.expiredAt) {
      const status = await this.client
        .status(server, sessionId, signalOpt(options.signal))
        .catch(() => undefined);
      if (status?.data.agents.includes(local.agentId)) {
        if (local.agentId !== agentId) {
          // One store holds one membership per session: joining again would drop this one's key.
          throw clientError(
            'already_member',
            `This install is already in session ${sessionLabel(local)} as ${local.agentId}.`,
          );
        }
        const session = alias !== undefined ? this.store.setAlias(sessionId, alias) : local;
        return {
          session: toSessionInfo(session),
          members: status.data.agents,
          alreadyJoined: true,
        };
      }
    }
    const { data } = await this.client.join(server, sessionId, agentId, signalOpt(options.signal));
    return this.adopt(
      {
        sessionId,
        server,
        agentId,
        alias,
        sessionKey: data.sessionKey,
        greeting: data.greeting,
        signal: options.signal,
      },
      'joined',
    );
  }

  async claim(options: {
    code: string;
    agentId?: string;
    alias?: string;
    signal?: AbortSignal;
  }): Promise<JoinResult & { code: string }> {
    const reference = this.pairingArg(options.code);
    const server = reference.server ?? this.defaultServer();
    const agentId = this.agentIdArg(options.agentId);
    const alias = this.aliasArg(options.alias);
    const { data } = await this.client.claim(
      server,
      reference.code,
      agentId,
      signalOpt(options.signal),
    );
    const joined = await this.adopt(
      {
        sessionId: data.sessionId,
        server,
        agentId,
        alias,
        sessionKey: data.sessionKey,
        greeting: data.greeting,
        signal: options.signal,
      },
      'claimed',
    );
    return { ...joined, code: reference.code };
  }

  async leave(reference: string, signal?: AbortSignal): Promise<LeaveResult> {
    const session = this.resolve(reference);
    let outcome: LeaveResult['outcome'] = 'removed';
    try {
      await this.client.leave(
        session.server,
        session.sessionId,
        session.agentId,
        session.sessionKey,
        signalOpt(signal),
      );
    } catch (error) {
      if (!(error instanceof NexusError)) throw error;
      if (error.code === 'session_not_found' || error.code === 'agent_not_found') {
        outcome = 'already_gone';
      } else if (error.code === 'invalid_session_key') {
        // Only the public status can tell a lost membership from a real key problem.
        const stillMember = await this.client
          .status(session.server, session.sessionId, {
            timeoutMs: PROBE_TIMEOUT_MS,
            ...signalOpt(signal),
          })
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
          `This agent created session ${sessionLabel(session)} and cannot leave it; it ends when its TTL runs out without activity.`,
          {
            status: error.status,
            ...(error.requestId !== undefined && { requestId: error.requestId }),
          },
        );
      } else {
        throw error;
      }
    }
    this.store.remove(session.sessionId);
    this.events.emit('sessions-changed', 'left');
    return { session: toSessionInfo(session), outcome };
  }

  // ---- pairing ----------------------------------------------------------------------------

  async pair(
    reference: string,
    signal?: AbortSignal,
  ): Promise<PairingInfo & { session: SessionInfo }> {
    const session = this.resolve(reference);
    const pairing = await this.withExpiry(session, () => this.pairStored(session, signal));
    return { ...pairing, session: toSessionInfo(session) };
  }

  async pairStatus(code: string, signal?: AbortSignal): Promise<PairStatusResult> {
    const reference = this.pairingArg(code);
    const server = reference.server ?? this.defaultServer();
    const { data } = await this.client.pairStatus(server, reference.code, signalOpt(signal));
    return {
      code: reference.code,
      server,
      state: data.state,
      ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
    };
  }

  // ---- messages ---------------------------------------------------------------------------

  async send(reference: string, options: SendOptions): Promise<SendResult> {
    const session = this.resolve(reference);
    const text = options.text ?? '';
    if (!text && options.json === undefined) {
      throw clientError('invalid_argument', 'A message needs text, a json payload, or both.');
    }
    let body: SendRequest = { text };
    let format: SendResult['format'] = 'text';
    if (options.json !== undefined) {
      const capabilities = await this.capabilitiesOf(session.server, options.signal);
      if (capabilities.messageFormat.includes('json')) {
        body = text
          ? { text, json: options.json as SendRequest['json'] }
          : { json: options.json as SendRequest['json'] };
        format = 'json';
      } else if (options.strict) {
        throw clientError(
          'json_not_supported',
          `The relay of session ${sessionLabel(session)} accepts text messages only.`,
        );
      } else {
        body = { text: foldJson(text, options.json) };
        format = 'folded';
      }
    }
    const { data } = await this.withExpiry(session, () =>
      this.client.send(
        session.server,
        session.sessionId,
        session.agentId,
        session.sessionKey,
        body,
        signalOpt(options.signal),
      ),
    );
    // Our own message must not wake our next wait: skip past it when nothing else came between.
    const updated = this.store.update(
      (state) => {
        const current = state.sessions[session.sessionId];
        if (!current) return undefined;
        if (BigInt(data.cursor) - 1n === BigInt(current.cursor)) current.cursor = data.cursor;
        current.lastUsedAt = this.isoNow();
        return current;
      },
      { durable: false },
    );
    return {
      session: toSessionInfo(updated ?? session),
      id: data.id,
      cursor: data.cursor,
      verified: true,
      redacted: data.redacted ?? 0,
      format,
    };
  }

  async poll(reference: string, options: PollOptions = {}): Promise<PollResult> {
    const session = this.resolve(reference);
    const replay = options.after !== undefined;
    const after = replay ? replayAfter(options.after) : session.cursor;
    const batch = await this.fetch(session, {
      ...(after !== undefined && { after }),
      ...(options.members !== undefined && { members: options.members }),
      limit: options.limit ?? DEFAULT_POLL_LIMIT,
      ...(options.signal !== undefined && { signal: options.signal }),
    });
    return this.handOver(batch, {
      limit: options.limit ?? DEFAULT_POLL_LIMIT,
      budgetChars: options.budgetChars ?? DEFAULT_BUDGET_CHARS,
      commit: !replay,
    });
  }

  /** Every local session that is not known to be expired, polled concurrently. */
  async pollAll(options: Omit<PollOptions, 'after'> = {}): Promise<PollAllResult> {
    const sessions = this.store.all().filter((session) => !session.expiredAt);
    const limit = options.limit ?? DEFAULT_POLL_LIMIT;
    const settled = await mapLimit(sessions, POLL_ALL_CONCURRENCY, async (session) => {
      try {
        return await this.fetch(session, {
          after: session.cursor,
          ...(options.members !== undefined && { members: options.members }),
          limit,
          ...(options.signal !== undefined && { signal: options.signal }),
        });
      } catch (error) {
        if (isNexusError(error, 'aborted')) throw error;
        return {
          session,
          error: error instanceof NexusError ? error : clientError('network_error', String(error)),
        };
      }
    });
    if (options.signal?.aborted)
      throw clientError('aborted', 'The poll was cancelled; no cursor moved.');
    // One budget across all sessions, spent in list order; commits happen together, after the last await.
    const errors: PollAllResult['errors'] = [];
    const batches: FetchedBatch[] = [];
    for (const item of settled) {
      if ('error' in item) errors.push({ session: toSessionInfo(item.session), error: item.error });
      else batches.push(item);
    }
    const results = this.handOverAll(batches, {
      limit,
      budgetChars: options.budgetChars ?? DEFAULT_BUDGET_CHARS,
      commit: true,
    });
    return { results, errors, hasMore: results.some((result) => result.hasMore) };
  }

  /**
   * Fetches messages after `after` without committing anything. Marks the session expired
   * when the relay no longer knows it.
   */
  async fetch(
    session: StoredSession,
    options: {
      after?: string;
      members?: boolean;
      limit?: number;
      waitMs?: number;
      signal?: AbortSignal;
    },
  ): Promise<FetchedBatch> {
    const { data } = await this.withExpiry(session, () =>
      this.client.poll(
        session.server,
        session.sessionId,
        session.agentId,
        {
          ...(options.after !== undefined && { after: options.after }),
          ...(options.members && { members: true }),
          ...(options.limit !== undefined && { limit: options.limit + 1 }),
          ...(options.waitMs !== undefined && { waitMs: options.waitMs }),
        },
        signalOpt(options.signal),
      ),
    );
    const messages = [...data.messages].sort((a, b) => compareCursors(a.cursor, b.cursor));
    return {
      session,
      ...(options.after !== undefined && { after: options.after }),
      messages,
      ...(data.nextCursor !== undefined && { nextCursor: data.nextCursor }),
      ...(data.members !== undefined && { members: data.members }),
    };
  }

  /**
   * Turns a fetched batch into what the caller shows, within the count and size limits, and
   * (when `commit`) moves the stored cursor to the last message shown. Synchronous on purpose:
   * callers run it after their last await, so a cancelled call cannot lose messages.
   */
  handOver(
    batch: FetchedBatch,
    options: { limit: number; budgetChars: number; commit: boolean },
  ): PollResult {
    return this.handOverAll([batch], options)[0] as PollResult;
  }

  /**
   * handOver for several batches with one store read and at most one locked write for all the
   * cursors that move; `budgetChars` is shared, spent in batch order. Synchronous, like handOver.
   */
  private handOverAll(
    batches: readonly FetchedBatch[],
    options: { limit: number; budgetChars: number; commit: boolean },
  ): PollResult[] {
    const stored = this.store.read().sessions;
    let budget = options.budgetChars;
    const prepared = batches.map((batch) => {
      const current = stored[batch.session.sessionId] ?? batch.session;
      const context = {
        label: sessionLabel(current),
        agentId: current.agentId,
        ...(current.creatorAgentId !== undefined && { creatorAgentId: current.creatorAgentId }),
      };
      const fresh = options.commit
        ? batch.messages.filter((message) => compareCursors(message.cursor, current.cursor) > 0)
        : batch.messages;
      const views = fresh.map((message) => toMessageView(message, context));
      const counted = views.slice(0, options.limit);
      // A shared budget (poll of all sessions) can run out before a session's turn comes.
      const taken = budget > 0 ? takeWithinBudget(counted, budget).taken : [];
      budget -= taken.reduce((sum, message) => sum + messageSize(message), 0);
      return { batch, current, taken, hasMore: taken.length < views.length };
    });
    const moves = new Map<string, string>();
    for (const { current, taken } of prepared) {
      const last = taken.at(-1)?.cursor;
      if (options.commit && last) moves.set(current.sessionId, last);
    }
    const moved = moves.size > 0 ? this.store.advanceCursors(moves) : new Map();
    return prepared.map(({ batch, current, taken, hasMore }) => {
      const last = taken.at(-1)?.cursor;
      let cursor: string;
      let session = current;
      if (options.commit) {
        const now = moved.get(current.sessionId);
        cursor = last ? (now?.cursor ?? last) : current.cursor;
        session = now ?? current;
      } else {
        cursor = last ?? batch.after ?? GREETING_CURSOR;
      }
      return {
        session: toSessionInfo(session),
        messages: taken,
        cursor,
        hasMore,
        replay: !options.commit,
        ...(batch.members !== undefined && { members: batch.members }),
      };
    });
  }

  // ---- status, renew, list, aliases -------------------------------------------------------

  async status(reference: string, signal?: AbortSignal): Promise<StatusResult> {
    const session = this.resolve(reference);
    const { data } = await this.withExpiry(session, () =>
      this.client.status(session.server, session.sessionId, signalOpt(signal)),
    );
    const updated = this.remember(session, data);
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

  async renew(
    reference: string,
    ttl?: number,
    signal?: AbortSignal,
  ): Promise<{ session: SessionInfo; ttl: number; expiresAt: string }> {
    const session = this.resolve(reference);
    const { data } = await this.withExpiry(session, () =>
      this.client.renew(session.server, session.sessionId, session.agentId, ttl, signalOpt(signal)),
    );
    const now = this.isoNow();
    const updated =
      this.store.patch(
        session.sessionId,
        {
          lastUsedAt: now,
          lastSeen: {
            ...session.lastSeen,
            ttl: data.ttl,
            expiresAt: data.expiresAt,
            checkedAt: now,
            ...(data.agents && { members: data.agents }),
          },
        },
        { durable: false },
      ) ?? session;
    return { session: toSessionInfo(updated), ttl: data.ttl, expiresAt: data.expiresAt };
  }

  /**
   * Local sessions with their live state, each probed on its own relay concurrently with a
   * short timeout. Sessions found expired more than a day ago are pruned first.
   */
  async list(options: { probe?: boolean; signal?: AbortSignal } = {}): Promise<ListEntry[]> {
    this.store.pruneExpired(EXPIRED_RETENTION_MS);
    const sessions = this.store.all();
    if (options.probe === false)
      return sessions.map((session) => ({
        session: toSessionInfo(session),
        live: session.expiredAt ? 'not_found' : 'active',
      }));
    return mapLimit(sessions, POLL_ALL_CONCURRENCY, async (session): Promise<ListEntry> => {
      try {
        const { data } = await this.client.status(session.server, session.sessionId, {
          timeoutMs: PROBE_TIMEOUT_MS,
          attempts: 1,
          ...signalOpt(options.signal),
        });
        const updated = this.remember(session, data);
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
          return { session: this.markExpired(session), live: 'not_found' };
        }
        const live: LiveStatus =
          nexus.code === 'network_error' || nexus.code === 'timeout' ? 'unreachable' : 'error';
        return { session: toSessionInfo(session), live, error: `${nexus.code}: ${nexus.message}` };
      }
    });
  }

  setAlias(reference: string, alias: string): SessionInfo {
    const session = this.resolve(reference);
    const trimmed = alias.trim();
    const updated = this.store.setAlias(
      session.sessionId,
      trimmed ? validateAlias(trimmed) : undefined,
    );
    this.events.emit('sessions-changed', 'alias');
    return toSessionInfo(updated);
  }

  /** Records that the relay no longer knows a session; says so once. */
  markExpired(session: StoredSession): SessionInfo {
    if (session.expiredAt) return toSessionInfo(session);
    const updated = this.store.patch(session.sessionId, { expiredAt: this.isoNow() }) ?? session;
    const info = toSessionInfo(updated);
    this.logger.warn(`Session ${info.label} has expired on its relay.`);
    this.events.emit('session-expired', info);
    this.events.emit('sessions-changed', 'expired');
    return info;
  }

  capabilitiesOf(server: string, signal?: AbortSignal): Promise<Capabilities> {
    return this.client.capabilities(server, signalOpt(signal));
  }

  // ---- internals --------------------------------------------------------------------------

  private async adopt(
    joined: {
      sessionId: string;
      server: string;
      agentId: string;
      alias: string | undefined;
      sessionKey: string;
      greeting: string | null | undefined;
      signal: AbortSignal | undefined;
    },
    reason: 'joined' | 'claimed',
  ): Promise<JoinResult> {
    const { sessionId, server, agentId, signal } = joined;
    const status = await this.client
      .status(server, sessionId, { timeoutMs: PROBE_TIMEOUT_MS, attempts: 1, ...signalOpt(signal) })
      .then(({ data }) => data)
      .catch(() => undefined);
    const creatorAgentId = status?.creatorAgentId ?? undefined;
    let greetingText = joined.greeting ?? undefined;
    if (joined.greeting === undefined) {
      // Relays that do not return the greeting on join keep it at cursor 0: read it without `after`.
      greetingText = await this.client
        .poll(
          server,
          sessionId,
          agentId,
          {},
          { timeoutMs: PROBE_TIMEOUT_MS, attempts: 1, ...signalOpt(signal) },
        )
        .then(
          ({ data }) => data.messages.find((message) => message.cursor === GREETING_CURSOR)?.text,
        )
        .catch(() => undefined);
    }
    const existing = this.store.get(sessionId);
    const replaced =
      existing && !existing.expiredAt && existing.agentId !== agentId
        ? existing.agentId
        : undefined;
    if (replaced) {
      this.logger.warn(
        `Session ${sessionLabel(existing ?? { sessionId })} was held as ${replaced}; it is now held as ${agentId}.`,
      );
    }
    const now = this.isoNow();
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
    };
    if (existing) this.store.remove(sessionId);
    this.store.put(stored);
    this.events.emit('sessions-changed', reason);
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

  private async pairStored(session: StoredSession, signal?: AbortSignal): Promise<PairingInfo> {
    const { data } = await this.client.pair(session.server, session.sessionId, signalOpt(signal));
    return {
      code: data.code,
      url: data.url ?? `${session.server}/p/${data.code}`,
      ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
    };
  }

  /** Runs a call against a session's relay; a session_not_found marks it expired on the way out. */
  private async withExpiry<T>(session: StoredSession, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      if (session.expiredAt) this.store.patch(session.sessionId, { expiredAt: undefined });
      return result;
    } catch (error) {
      if (isNexusError(error, 'session_not_found')) this.markExpired(session);
      throw error;
    }
  }

  private remember(
    session: StoredSession,
    data: {
      agents: string[];
      expiresAt?: string;
      ttl: number;
      maxAgents: number;
      creatorAgentId?: string | null;
    },
  ): StoredSession {
    const now = this.isoNow();
    return (
      this.store.patch(
        session.sessionId,
        {
          ...(data.creatorAgentId ? { creatorAgentId: data.creatorAgentId } : {}),
          expiredAt: undefined,
          lastSeen: {
            members: data.agents,
            ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
            ttl: data.ttl,
            maxAgents: data.maxAgents,
            checkedAt: now,
          },
        },
        // What the relay last said is a cache: no need to wait for the disk.
        { durable: false },
      ) ?? session
    );
  }

  private agentIdArg(agentId: string | undefined): string {
    if (agentId === undefined || agentId.trim() === '') return this.defaultAgentId();
    const trimmed = agentId.trim();
    if (!isAgentId(trimmed)) {
      throw clientError(
        'invalid_argument',
        `agent_id may hold only letters, digits, - and _, at most 128 characters (got ${quoted(trimmed)}).`,
      );
    }
    return trimmed;
  }

  private aliasArg(alias: string | undefined): string | undefined {
    if (alias === undefined || alias.trim() === '') return undefined;
    const valid = validateAlias(alias);
    const owner = this.store.all().find((session) => session.alias === valid);
    if (owner)
      throw clientError(
        'alias_taken',
        `The alias "${valid}" already names session ${shortId(owner.sessionId)}.`,
      );
    return valid;
  }

  private pairingArg(input: string) {
    const reading = readPairingInput(input);
    if (!reading.ok) {
      throw clientError(
        'invalid_pairing_input',
        `Not a pairing code or link (${reading.problem}): ${cutReference(reading.shown)}.`,
      );
    }
    return reading.reference;
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

function signalOpt(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

/** `after: "0"` means "everything, greeting included": the protocol's way is to omit `after`. */
function replayAfter(after: string | undefined): string | undefined {
  if (after === undefined) return undefined;
  const trimmed = after.trim();
  if (!isCursor(trimmed)) {
    throw clientError(
      'invalid_argument',
      `after must be a cursor, a whole number of at least 0 like 42 or "42" (got ${quoted(after)}).`,
    );
  }
  return trimmed === '0' ? undefined : trimmed;
}

function foldJson(text: string, json: unknown): string {
  const block = `\`\`\`json\n${JSON.stringify(json, null, 2)}\n\`\`\``;
  return text ? `${text}\n\n${block}` : block;
}
