import {
  type CreateSessionRequest,
  DEFAULT_TTL_SECONDS,
  type SendRequest,
} from '../protocol/index.js';
import { redactJson, redactSecrets } from '../protocol/redact.js';
import { invalidRequest, RelayError } from './errors.js';
import type { LongPollWaiters } from './long-poll-waiters.js';
import { RELAY_DEFAULTS, type ResolvedRelayOptions } from './options.js';
import { generatePairCode } from './pair-code.js';
import { keysMatch, newMessageId, newSessionId, newSessionKey } from './secrets.js';
import type { AgentRecord, PairCodeRecord, RelayStorage, SessionRecord } from './storage.js';
import { greetingMessage, iso, messageJson, sessionStatus } from './wire.js';

/** Claimed and expired codes still answer `expired` / `code_expired_or_used` this long. */
const PAIR_CODE_RETENTION_MS = 60 * 60 * 1000;
/** Read from the store this many at a time, so a poll capped by bytes reads little more than it sends. */
const POLL_READ_CHUNK = 32;
/** A poll marks its agent seen and slides the expiry at most this often (see recentlyTouched). */
const POLL_TOUCH_INTERVAL_MS = 1_000;
/** Lifetimes (ttl, inactivity limit) below this get every poll's touch written. */
const MIN_SKIP_LIFETIME_MS = 60 * POLL_TOUCH_INTERVAL_MS;
/** Ids a client could use to pass for the relay or the greeting (`system` writes the greeting). */
const RESERVED_AGENT_IDS = new Set(['system', 'relay', 'nexus']);

function refuseReservedId(agentId: string): void {
  if (RESERVED_AGENT_IDS.has(agentId.toLowerCase())) {
    throw invalidRequest('X-Agent-Id', `${agentId} is reserved by the relay: choose another id`);
  }
}

export interface PollQuery {
  /** As sent, echoed back as nextCursor when nothing is new. */
  after: string | undefined;
  members: boolean;
  limit: number;
  /** 0 = answer at once. */
  waitMs: number;
}

export interface PollResult {
  /** Each message already serialised (a stored `json` payload is spliced in as its text). */
  messages: string[];
  nextCursor: string;
  /** Set when the poll stopped at its limit or its byte budget with messages left to read. */
  hasMore?: true;
  members?: { agentId: string; lastSeenAt: string }[];
}

/** The poll response body; built from serialised messages so `json` is never parsed again. */
export function pollBody(result: PollResult): string {
  const rest: Omit<PollResult, 'messages'> = { nextCursor: result.nextCursor };
  if (result.hasMore) rest.hasMore = true;
  if (result.members) rest.members = result.members;
  return `{"messages":[${result.messages.join(',')}],${JSON.stringify(rest).slice(1)}`;
}

/**
 * The protocol's rules (PROTOCOL.md) over a RelayStorage: expiry, membership, keys, cursors,
 * pairing, long-poll. Returns response bodies; throws RelayError for protocol errors.
 */
export class RelayService {
  readonly startedAt: number;

  constructor(
    private readonly storage: RelayStorage,
    private readonly options: ResolvedRelayOptions,
    private readonly waiters: LongPollWaiters,
  ) {
    this.startedAt = this.now();
  }

  /** `ownerAddress`: a digest of the client's address, for the cap on live sessions per address. */
  async createSession(request: CreateSessionRequest, ownerAddress?: string) {
    const now = this.now();
    const ttl = this.clampTtl(request.ttl ?? DEFAULT_TTL_SECONDS);
    const creator = request.creatorAgentId;
    if (creator !== undefined) refuseReservedId(creator);
    const greeting = request.greeting ? redactSecrets(request.greeting).text : undefined;
    const agents: AgentRecord[] = creator
      ? [{ agentId: creator, sessionKey: newSessionKey(), joinedAt: now, lastSeenAt: now }]
      : [];
    const session: SessionRecord = {
      sessionId: newSessionId(),
      ttlSeconds: ttl,
      maxAgents: Math.min(
        request.maxAgents ?? this.options.defaultMaxAgents,
        this.options.maxAgents,
      ),
      ...(greeting ? { greeting } : {}),
      ...(creator ? { creatorAgentId: creator } : {}),
      createdAt: now,
      expiresAt: now + ttl * 1000,
      lastCursor: 0,
      agents,
    };
    const max = this.options.maxSessionsPerIp;
    const owner =
      ownerAddress !== undefined && max > 0
        ? { address: ownerAddress, maxSessions: max }
        : undefined;
    for (;;) {
      const created = await this.storage.createSession(session, owner);
      if (created === 'created') break;
      if (created === 'limit') {
        throw new RelayError(
          'rate_limit_exceeded',
          `This address already has ${max} live sessions: reuse one, or wait for some to expire.`,
        );
      }
      // 192 random bits do not collide; the loop only keeps a broken RNG from overwriting.
      session.sessionId = newSessionId();
    }
    return {
      sessionId: session.sessionId,
      ttl: session.ttlSeconds,
      maxAgents: session.maxAgents,
      state: 'active' as const,
      expiresAt: iso(session.expiresAt),
      ...(creator ? { creatorAgentId: creator, sessionKey: agents[0]?.sessionKey } : {}),
    };
  }

  async status(sessionId: string) {
    return sessionStatus(await this.liveSession(sessionId));
  }

  async join(sessionId: string, agentId: string) {
    refuseReservedId(agentId);
    const session = await this.liveSession(sessionId);
    const key = await this.addAgent(sessionId, agentId);
    return {
      status: 'joined' as const,
      agentsOnline: session.agents.length + 1,
      sessionKey: key,
      ...(session.greeting ? { greeting: session.greeting } : {}),
    };
  }

  /** Check order fixed by PROTOCOL.md ("Leave check order"). */
  async leave(sessionId: string, agentId: string, callerId: string, key: string | undefined) {
    const session = await this.liveSession(sessionId);
    const member = session.agents.find((agent) => agent.agentId === agentId);
    if (!member) throw new RelayError('agent_not_found', `Agent ${agentId} is not in the session.`);
    if (!key) throw new RelayError('missing_session_key');
    if (callerId !== agentId || !keysMatch(member.sessionKey, key)) {
      throw new RelayError('invalid_session_key');
    }
    if (session.creatorAgentId === agentId) {
      throw new RelayError('forbidden', 'The creator of a session cannot leave it.');
    }
    await this.storage.removeAgent(sessionId, agentId);
    return {
      ok: true as const,
      status: 'removed' as const,
      sessionId,
      agentId,
      message: `Agent ${agentId} left the session.`,
    };
  }

  async renew(sessionId: string, agentId: string, ttl: number | undefined) {
    const session = await this.liveSession(sessionId);
    this.requireMember(session, agentId, 'forbidden');
    const renewed = await this.touch(
      sessionId,
      agentId,
      ttl === undefined ? undefined : this.clampTtl(ttl),
    );
    return sessionStatus(renewed);
  }

  async send(sessionId: string, agentId: string, key: string | undefined, body: SendRequest) {
    const text = redactSecrets(body.text ?? '');
    const json = body.json === undefined ? undefined : redactJson(body.json);
    // Kept as text: a parsed payload of many small nodes costs tens of times its wire size.
    const jsonText = json === undefined ? undefined : JSON.stringify(json.value);
    const now = this.now();
    const draft = {
      id: newMessageId(),
      agentId,
      text: text.text,
      ...(jsonText !== undefined ? { jsonText } : {}),
      verified: key !== undefined,
      createdAt: now,
    };
    // One write where the store can check too; otherwise, or when a check did not pass there,
    // the checks below run here and answer with the right error.
    const idleMs = this.options.agentInactivitySeconds * 1000;
    let message = await this.storage.appendIfAllowed?.(sessionId, draft, { key, idleMs });
    if (!message) {
      const session = await this.liveSession(sessionId);
      const member = this.requireMember(session, agentId, 'forbidden');
      if (key !== undefined && !keysMatch(member.sessionKey, key)) {
        throw new RelayError('invalid_session_key', undefined, { status: 403 });
      }
      const expiresAt = now + session.ttlSeconds * 1000;
      message = await this.storage.appendMessage(sessionId, { ...draft, expiresAt });
    }
    // The append also slid the session's expiry and marked the sender seen.
    if (!message) throw new RelayError('session_not_found');
    return {
      id: message.id,
      cursor: String(message.cursor),
      expiresAt: iso(message.expiresAt),
      redacted: text.count + (json?.count ?? 0),
    };
  }

  /**
   * A poll; with waitMs it is held until a message after the cursor arrives, waitMs pass, the
   * client disconnects or the relay shuts down. Errors answer at once, before any wait.
   */
  async poll(
    sessionId: string,
    agentId: string,
    query: PollQuery,
    signal: AbortSignal,
  ): Promise<PollResult> {
    const after = query.after === undefined ? undefined : Number(query.after);
    const holds = this.options.longPoll && query.waitMs > 0;
    // Watched and registered before the first read, so a message landing in between (through
    // this process or another on a shared store) still wakes it.
    const unwatch = holds ? await this.storage.watch(sessionId) : undefined;
    const waiter = holds ? this.waiters.add(sessionId, after) : undefined;
    try {
      const first = await this.pollOnce(sessionId, agentId, query, after);
      if (!waiter || first.messages.length > 0) return first;
      const outcome = await waiter.wait(query.waitMs, signal);
      if (outcome === 'aborted' || outcome === 'closed') return first;
      return await this.pollOnce(sessionId, agentId, query, after);
    } finally {
      waiter?.cancel();
      unwatch?.();
    }
  }

  async pair(sessionId: string, baseUrl: string) {
    await this.liveSession(sessionId);
    const now = this.now();
    const record: PairCodeRecord = {
      code: generatePairCode(),
      sessionId,
      createdAt: now,
      expiresAt: now + this.options.pairCodeTtlSeconds * 1000,
    };
    while (!(await this.storage.putPairCode(record))) record.code = generatePairCode();
    return {
      code: record.code,
      url: `${baseUrl}/p/${record.code}`,
      expiresAt: iso(record.expiresAt),
    };
  }

  async pairStatus(code: string) {
    const record = await this.pairCode(code);
    return { state: await this.pairState(record), expiresAt: iso(record.expiresAt) };
  }

  async claim(code: string, agentId: string) {
    refuseReservedId(agentId);
    const record = await this.pairCode(code);
    const claimed = await this.storage.claimPairCode(record.code, this.now());
    if (claimed !== 'claimed') throw new RelayError('code_expired_or_used');
    try {
      const joined = await this.join(record.sessionId, agentId);
      return {
        sessionId: record.sessionId,
        status: 'claimed' as const,
        sessionKey: joined.sessionKey,
        ...(joined.greeting ? { greeting: joined.greeting } : {}),
      };
    } catch (error) {
      if (error instanceof RelayError && error.code === 'session_not_found') {
        throw new RelayError('code_expired_or_used');
      }
      // The code stays usable for an agent that can join (another id, a freed slot).
      await this.storage.releasePairCode(record.code);
      throw error;
    }
  }

  /** What the pairing page needs: the code, only while it can still be claimed. */
  async claimableCode(code: string): Promise<PairCodeRecord> {
    const record = await this.pairCode(code);
    if ((await this.pairState(record)) !== 'pending') throw new RelayError('code_expired_or_used');
    return record;
  }

  async stats() {
    const counts = await this.storage.counts(this.now());
    return {
      activeSessions: counts.sessions,
      totalAgents: counts.agents,
      totalMessages: counts.messages,
      uptime: this.uptimeSeconds(),
      pendingLongPolls: this.waiters.pending,
    };
  }

  uptimeSeconds(): number {
    return Math.max(0, Math.floor((this.now() - this.startedAt) / 1000));
  }

  /** Drops expired sessions and messages, inactive agents and old pair codes. */
  async sweep(): Promise<void> {
    const now = this.now();
    await this.storage.dropExpired(now);
    if (this.options.agentInactivitySeconds > 0) {
      for (const sessionId of await this.storage.listSessionIds()) {
        await this.findLiveSession(sessionId);
      }
    }
    await this.storage.prunePairCodes(now - PAIR_CODE_RETENTION_MS);
  }

  private async pollOnce(
    sessionId: string,
    agentId: string,
    query: PollQuery,
    after: number | undefined,
  ): Promise<PollResult> {
    const now = this.now();
    const firstWant = Math.min(POLL_READ_CHUNK, query.limit + 1);
    // Read alongside the session, not after it: on Redis both go out in one write and come
    // back in one round trip. Discarded unread when the session or membership check refuses.
    const firstRead = this.storage.readMessages(sessionId, after, firstWant, now);
    firstRead.catch(() => undefined);
    const session = await this.liveSession(sessionId);
    const member = this.requireMember(session, agentId, 'agent_not_in_session');
    const touched = this.recentlyTouched(session, member)
      ? session
      : await this.touch(sessionId, agentId);
    const result: PollResult = { messages: [], nextCursor: query.after ?? '0' };
    if (query.members) {
      result.members = touched.agents.map((agent) => ({
        agentId: agent.agentId,
        lastSeenAt: iso(agent.lastSeenAt),
      }));
    }
    let budget = RELAY_DEFAULTS.maxPollBytes - Buffer.byteLength(pollBody(result)) - 64;
    if (query.after === undefined && touched.greeting) {
      const greeting = JSON.stringify(greetingMessage({ ...touched, greeting: touched.greeting }));
      result.messages.push(greeting);
      budget -= Buffer.byteLength(greeting) + 1;
    }
    let sent = 0;
    let want = firstWant;
    let reading = firstRead;
    for (;;) {
      const batch = await reading;
      for (const message of batch) {
        const text = messageJson(message);
        const size = Buffer.byteLength(text) + 1;
        // One message always fits (a message is far below the budget): a poll always progresses.
        if (sent === query.limit || (sent > 0 && size > budget)) {
          result.hasMore = true;
          return result;
        }
        result.messages.push(text);
        result.nextCursor = String(message.cursor);
        budget -= size;
        sent++;
      }
      if (batch.length < want) return result;
      const from = (batch.at(-1) as { cursor: number }).cursor;
      want = Math.min(POLL_READ_CHUNK, query.limit + 1 - sent);
      reading = this.storage.readMessages(sessionId, from, want, now);
    }
  }

  private async addAgent(sessionId: string, agentId: string): Promise<string> {
    const now = this.now();
    const sessionKey = newSessionKey();
    const result = await this.storage.addAgent(sessionId, {
      agentId,
      sessionKey,
      joinedAt: now,
      lastSeenAt: now,
    });
    switch (result) {
      case 'added':
        return sessionKey;
      case 'taken':
        throw new RelayError('agent_id_taken', `Agent id ${agentId} is already in the session.`);
      case 'full':
        throw new RelayError('session_full');
      case 'missing':
        throw new RelayError('session_not_found');
    }
  }

  private async pairCode(code: string): Promise<PairCodeRecord> {
    const record = await this.storage.getPairCode(code.toUpperCase());
    if (!record) throw new RelayError('code_not_found');
    return record;
  }

  private async pairState(record: PairCodeRecord): Promise<'pending' | 'claimed' | 'expired'> {
    if (record.claimedAt !== undefined) return 'claimed';
    if (record.expiresAt <= this.now()) return 'expired';
    // A code for a session that is gone can never be claimed.
    return (await this.findLiveSession(record.sessionId)) ? 'pending' : 'expired';
  }

  private requireMember(
    session: SessionRecord,
    agentId: string,
    code: 'forbidden' | 'agent_not_in_session',
  ): AgentRecord {
    const member = session.agents.find((agent) => agent.agentId === agentId);
    if (!member) throw new RelayError(code, `Agent ${agentId} is not a member of the session.`);
    return member;
  }

  /**
   * True when the member was seen and the expiry slid less than POLL_TOUCH_INTERVAL_MS ago: a
   * poll then skips its touch (a store write: a SQLite transaction, a Redis round trip) and both
   * stay at most that much behind. Read from the stored session, so it holds across processes.
   * Never for lifetimes short enough for that second to matter (a ttl or an inactivity limit
   * under a minute, which only a relay's own options allow).
   */
  private recentlyTouched(session: SessionRecord, member: AgentRecord): boolean {
    const idleMs = this.options.agentInactivitySeconds * 1000;
    const short = (ms: number): boolean => ms > 0 && ms < MIN_SKIP_LIFETIME_MS;
    if (short(session.ttlSeconds * 1000) || short(idleMs)) return false;
    const since = this.now() - POLL_TOUCH_INTERVAL_MS;
    return member.lastSeenAt > since && session.expiresAt > since + session.ttlSeconds * 1000;
  }

  private async touch(sessionId: string, agentId: string, ttl?: number): Promise<SessionRecord> {
    const session = await this.storage.touch(sessionId, agentId, this.now(), ttl);
    if (!session) throw new RelayError('session_not_found');
    return session;
  }

  private async liveSession(sessionId: string): Promise<SessionRecord> {
    const session = await this.findLiveSession(sessionId);
    if (!session) throw new RelayError('session_not_found');
    return session;
  }

  /**
   * The session unless it expired (then it is deleted: expiry is also checked lazily, not only
   * by the sweep), minus agents idle past AGENT_INACTIVITY_SECONDS (never the creator).
   */
  private async findLiveSession(sessionId: string): Promise<SessionRecord | undefined> {
    const session = await this.storage.getSession(sessionId);
    if (!session) return undefined;
    const now = this.now();
    if (session.expiresAt <= now) {
      await this.storage.deleteSession(sessionId);
      return undefined;
    }
    const idleMs = this.options.agentInactivitySeconds * 1000;
    if (idleMs === 0) return session;
    const idle = session.agents.filter(
      (agent) => agent.agentId !== session.creatorAgentId && agent.lastSeenAt + idleMs <= now,
    );
    for (const agent of idle) await this.storage.removeAgent(sessionId, agent.agentId);
    return idle.length === 0
      ? session
      : { ...session, agents: session.agents.filter((agent) => !idle.includes(agent)) };
  }

  private clampTtl(ttl: number): number {
    return Math.min(ttl, this.options.maxTtlSeconds);
  }

  private now(): number {
    return this.options.clock.now();
  }
}
