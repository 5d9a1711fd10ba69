/**
 * What the relay keeps, behind one interface: the service holds the protocol's rules, a storage
 * holds the data and makes each method atomic, so a shared backend (Redis) can replace the
 * in-memory one without touching the service or the routes. Times are epoch milliseconds.
 */

export interface AgentRecord {
  agentId: string;
  sessionKey: string;
  joinedAt: number;
  /** The agent's last join, send, poll or renew. */
  lastSeenAt: number;
}

export interface SessionRecord {
  sessionId: string;
  ttlSeconds: number;
  maxAgents: number;
  greeting?: string;
  creatorAgentId?: string;
  createdAt: number;
  expiresAt: number;
  /** The highest cursor ever handed out; persisted so cursors never repeat after a restart. */
  lastCursor: number;
  agents: AgentRecord[];
}

export interface StoredMessage {
  id: string;
  agentId: string;
  text: string;
  /** The `json` payload as JSON text: held as sent, so a message costs memory in proportion to its wire size. */
  jsonText?: string;
  cursor: number;
  verified: boolean;
  createdAt: number;
  expiresAt: number;
}

export type MessageDraft = Omit<StoredMessage, 'cursor'>;

export interface PairCodeRecord {
  code: string;
  sessionId: string;
  createdAt: number;
  expiresAt: number;
  claimedAt?: number;
}

export type CreateSessionResult = 'created' | 'taken' | 'limit';

/** Who created a session, for the cap on live sessions per client address. */
export interface SessionOwner {
  /** An opaque digest of the client address (never the address itself). */
  address: string;
  /** Refuse ('limit') when this address already has this many live sessions. */
  maxSessions: number;
}

export type AddAgentResult = 'added' | 'taken' | 'full' | 'missing';
export type ClaimPairCodeResult = 'claimed' | 'unavailable' | 'missing';

export interface StorageCounts {
  sessions: number;
  agents: number;
  messages: number;
}

export type MessageListener = (sessionId: string, cursor: number) => void;

export interface RelayStorage {
  /** 'taken' when the id is already in use, 'limit' when the owner is at its cap. */
  createSession(session: SessionRecord, owner?: SessionOwner): Promise<CreateSessionResult>;
  /** A copy: changing it changes nothing stored. */
  getSession(sessionId: string): Promise<SessionRecord | undefined>;
  /** Drops the session and its messages. */
  deleteSession(sessionId: string): Promise<void>;
  listSessionIds(): Promise<string[]>;
  /**
   * Sliding expiry: expiresAt = at + ttl (the new ttl when given), and the agent's lastSeenAt =
   * at. Returns the updated session, or undefined when it is gone.
   */
  touch(
    sessionId: string,
    agentId: string,
    at: number,
    ttlSeconds?: number,
  ): Promise<SessionRecord | undefined>;
  /** Adds the agent unless its id is taken or the session is full. */
  addAgent(sessionId: string, agent: AgentRecord): Promise<AddAgentResult>;
  removeAgent(sessionId: string, agentId: string): Promise<boolean>;

  /**
   * Assigns the next cursor, drops the oldest message past the per-session cap, and (as a
   * touch at draft.createdAt by draft.agentId would) slides the session's expiry and marks the
   * sender seen: a send is one atomic write.
   */
  appendMessage(sessionId: string, draft: MessageDraft): Promise<StoredMessage | undefined>;
  /**
   * Optional (Redis: one round trip; memory: no copy of the session): appendMessage in the same
   * write as the checks a send makes first (live session, sender a member and not idle past
   * `idleMs`, `key` the sender's when given), the message expiring a session ttl after
   * createdAt. Undefined when any check did not pass plainly: the caller then runs them itself
   * for the right error (nothing was written).
   */
  appendIfAllowed?(
    sessionId: string,
    draft: Omit<MessageDraft, 'expiresAt'>,
    check: { key: string | undefined; idleMs: number },
  ): Promise<StoredMessage | undefined>;
  /** Messages with cursor > after (all when undefined), oldest first, unexpired at `now`. */
  readMessages(
    sessionId: string,
    after: number | undefined,
    limit: number,
    now: number,
  ): Promise<StoredMessage[]>;
  /** Told of every appended message to a watched session, whichever process appended it. */
  subscribe(listener: MessageListener): () => void;
  /**
   * Starts delivering the session's messages to the listeners (a shared store subscribes to the
   * session's channel); resolves once delivery is live. Returns the matching unwatch.
   */
  watch(sessionId: string): Promise<() => void>;

  /** Returns false when the code is already in use. */
  putPairCode(record: PairCodeRecord): Promise<boolean>;
  getPairCode(code: string): Promise<PairCodeRecord | undefined>;
  /** Marks a pending, unexpired code claimed at `at`; at most one caller wins. */
  claimPairCode(code: string, at: number): Promise<ClaimPairCodeResult>;
  /** Makes a claimed code pending again (the claimer could not join). */
  releasePairCode(code: string): Promise<void>;
  /** Forgets codes that expired before `before`. */
  prunePairCodes(before: number): Promise<void>;
  /** Drops sessions and messages expired at `now` (a store with its own expiry may do nothing). */
  dropExpired(now: number): Promise<void>;

  /** Sessions unexpired at `now`, their agents and their unexpired messages. */
  counts(now: number): Promise<StorageCounts>;
  /**
   * Counts one request from `address` in the current 60-second window (opened by its first
   * request); returns the count so far. Shared by every process on a shared store.
   */
  countRequest(address: string, now: number): Promise<{ count: number; windowStart: number }>;
  close(): Promise<void>;
}
