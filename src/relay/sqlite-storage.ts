import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { copySession, type SendCheck, sendAllowed } from './held-session.js';
import { loadSqlite } from './load-sqlite.js';
import { LocalStorageBase } from './local-storage-base.js';
import { SqliteCheckpointer } from './sqlite-checkpointer.js';
import { GroupCommit } from './sqlite-group-commit.js';
import {
  CACHED_MESSAGES,
  type CachedSession,
  cachedSession,
  fillOlder,
  heldMessagesAfter,
  holdMessage,
  SessionCache,
} from './sqlite-session-cache.js';
import type {
  AddAgentResult,
  AgentRecord,
  ClaimPairCodeResult,
  CreateSessionResult,
  MessageDraft,
  PairCodeRecord,
  RelayStorage,
  SessionOwner,
  SessionRecord,
  StorageCounts,
  StoredMessage,
} from './storage.js';
import { StoreRefused } from './store-errors.js';

/** Bumped with every change to the tables below; a newer file is refused, never rewritten. */
const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE sessions (
  session_id TEXT PRIMARY KEY,
  ttl_seconds INTEGER NOT NULL,
  max_agents INTEGER NOT NULL,
  greeting TEXT,
  creator_agent_id TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_cursor INTEGER NOT NULL,
  owner TEXT
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_owner ON sessions (owner, expires_at) WHERE owner IS NOT NULL;
CREATE TABLE agents (
  session_id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  session_key TEXT NOT NULL,
  joined_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  UNIQUE (session_id, agent_id)
);
CREATE TABLE messages (
  session_id TEXT NOT NULL,
  cursor INTEGER NOT NULL,
  id TEXT NOT NULL,
  agent_id TEXT NOT NULL,
  text TEXT NOT NULL,
  json_text TEXT,
  verified INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (session_id, cursor)
);
CREATE INDEX messages_by_expiry ON messages (expires_at);
CREATE TABLE pair_codes (
  code TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  claimed_at INTEGER
) WITHOUT ROWID;
CREATE INDEX pair_codes_by_expiry ON pair_codes (expires_at);
`;

/** SQLite's primary result codes for a write the disk refused (the extended codes add high bits). */
const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;

/** Whether SQLite could not write (a full disk, an I/O error): the store, not the request, failed. */
export function isSqliteWriteFailure(error: unknown): boolean {
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== 'ERR_SQLITE_ERROR') {
    return false;
  }
  const primary = Number((error as { errcode?: unknown }).errcode) & 0xff;
  return primary === SQLITE_IOERR || primary === SQLITE_FULL;
}

/** Messages below a session's cap are deleted this many at a time. */
const TRIM_BATCH = 64;

type Row = Record<string, string | number | null>;

function sessionFrom(row: Row, agents: Row[]): SessionRecord {
  const session: SessionRecord = {
    sessionId: row.session_id as string,
    ttlSeconds: row.ttl_seconds as number,
    maxAgents: row.max_agents as number,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
    lastCursor: row.last_cursor as number,
    agents: agents.map((agent) => ({
      agentId: agent.agent_id as string,
      sessionKey: agent.session_key as string,
      joinedAt: agent.joined_at as number,
      lastSeenAt: agent.last_seen_at as number,
    })),
  };
  if (row.greeting !== null) session.greeting = row.greeting as string;
  if (row.creator_agent_id !== null) session.creatorAgentId = row.creator_agent_id as string;
  return session;
}

function messageFrom(row: Row): StoredMessage {
  const message: StoredMessage = {
    id: row.id as string,
    agentId: row.agent_id as string,
    text: row.text as string,
    cursor: row.cursor as number,
    verified: row.verified === 1,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  };
  if (row.json_text !== null) message.jsonText = row.json_text as string;
  return message;
}

function pairCodeFrom(row: Row): PairCodeRecord {
  const record: PairCodeRecord = {
    code: row.code as string,
    sessionId: row.session_id as string,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
  };
  if (row.claimed_at !== null) record.claimedAt = row.claimed_at as number;
  return record;
}

/**
 * Opens the database, creating it (0600, in a 0700 directory) when there is none. A file that
 * is unreadable, not a relay database or from a newer version is refused untouched: the checks
 * run before anything is written, WAL mode included.
 */
function openDatabase(sqlite: typeof import('node:sqlite'), path: string): DatabaseSync {
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  // SQLite gives its -wal and -shm files the main file's mode, so this sets all three.
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  let db: DatabaseSync | undefined;
  try {
    db = new sqlite.DatabaseSync(path);
    const version = (db.prepare('PRAGMA user_version').get() as Row).user_version as number;
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get();
    if (version > SCHEMA_VERSION) {
      throw new StoreRefused(
        `${path} was written by a newer relay (schema ${version}, this one reads ${SCHEMA_VERSION}); it was left untouched: upgrade nexus-messaging-mcp or pass another --data-dir`,
      );
    }
    if (version === 0 && (tables as Row).n !== 0) {
      throw new StoreRefused(
        `${path} is an SQLite database but not a relay store; it was left untouched: move it aside or pass another --data-dir`,
      );
    }
    db.exec('PRAGMA journal_mode = WAL');
    // NORMAL in WAL mode: a commit survives the process being killed at any moment (the OS holds
    // the written pages); only a power loss may drop the last commits. FULL would fsync each one.
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA busy_timeout = 5000');
    // Checkpoints run on their own thread (SqliteCheckpointer), never inside a request's commit.
    db.exec('PRAGMA wal_autocheckpoint = 0');
    if (version === 0) {
      db.exec('BEGIN IMMEDIATE');
      db.exec(SCHEMA);
      db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
      db.exec('COMMIT');
    }
    return db;
  } catch (error) {
    db?.close();
    if (error instanceof StoreRefused) throw error;
    throw new StoreRefused(
      `${path} cannot be read as a relay database (${(error as Error).message}); it was left untouched: move it aside or pass another --data-dir`,
    );
  }
}

/** Every query the store runs, prepared once. */
function prepareStatements(db: DatabaseSync) {
  const s = (text: string): StatementSync => db.prepare(text);
  return {
    sessionExists: s('SELECT 1 FROM sessions WHERE session_id = ?'),
    ownerCount: s('SELECT count(*) AS n FROM sessions WHERE owner = ? AND expires_at > ?'),
    insertSession: s(
      'INSERT INTO sessions (session_id, ttl_seconds, max_agents, greeting, creator_agent_id, created_at, expires_at, last_cursor, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    insertAgent: s(
      'INSERT INTO agents (session_id, agent_id, session_key, joined_at, last_seen_at) VALUES (?, ?, ?, ?, ?)',
    ),
    session: s('SELECT * FROM sessions WHERE session_id = ?'),
    agents: s('SELECT * FROM agents WHERE session_id = ? ORDER BY rowid'),
    deleteSession: s('DELETE FROM sessions WHERE session_id = ?'),
    deleteAgents: s('DELETE FROM agents WHERE session_id = ?'),
    deleteMessages: s('DELETE FROM messages WHERE session_id = ?'),
    sessionIds: s('SELECT session_id FROM sessions'),
    touchSession: s('UPDATE sessions SET ttl_seconds = ?, expires_at = ? WHERE session_id = ?'),
    touchAgent: s('UPDATE agents SET last_seen_at = ? WHERE session_id = ? AND agent_id = ?'),
    removeAgent: s('DELETE FROM agents WHERE session_id = ? AND agent_id = ?'),
    advanceCursor: s('UPDATE sessions SET last_cursor = ?, expires_at = ? WHERE session_id = ?'),
    insertMessage: s(
      'INSERT INTO messages (session_id, cursor, id, agent_id, text, json_text, verified, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    trimMessages: s('DELETE FROM messages WHERE session_id = ? AND cursor <= ?'),
    // Reads past the held window only. The caller bounds them by the cap (the trim runs once per
    // TRIM_BATCH messages) and by the last committed cursor.
    readAfter: s(
      'SELECT * FROM messages WHERE session_id = ? AND cursor > ? AND cursor <= ? AND expires_at > ? ORDER BY cursor LIMIT ?',
    ),
    olderMessages: s(
      'SELECT * FROM messages WHERE session_id = ? AND cursor > ? AND cursor <= ? ORDER BY cursor',
    ),
    insertPairCode: s(
      'INSERT INTO pair_codes (code, session_id, created_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    ),
    pairCode: s('SELECT * FROM pair_codes WHERE code = ?'),
    claimPairCode: s('UPDATE pair_codes SET claimed_at = ? WHERE code = ?'),
    releasePairCode: s('UPDATE pair_codes SET claimed_at = NULL WHERE code = ?'),
    prunePairCodes: s('DELETE FROM pair_codes WHERE expires_at < ?'),
    importPairCode: s(
      'INSERT INTO pair_codes (code, session_id, created_at, expires_at, claimed_at) VALUES (?, ?, ?, ?, ?)',
    ),
    anySession: s('SELECT 1 FROM sessions LIMIT 1'),
    expiredSessions: s('SELECT session_id FROM sessions WHERE expires_at <= ?'),
    expiredMessages: s('DELETE FROM messages WHERE expires_at <= ?'),
    countSessions: s('SELECT count(*) AS n FROM sessions WHERE expires_at > ?'),
    countAgents: s(
      'SELECT count(*) AS n FROM agents JOIN sessions USING (session_id) WHERE sessions.expires_at > ?',
    ),
    countMessages: s(
      'SELECT count(*) AS n FROM messages JOIN sessions USING (session_id) WHERE sessions.expires_at > ? AND messages.expires_at > ? AND messages.cursor > sessions.last_cursor - ?',
    ),
  };
}
type Statements = ReturnType<typeof prepareStatements>;
type StatementName = keyof Statements;

export interface SqliteStorageOptions {
  path: string;
  maxMessagesPerSession: number;
  log: (line: string) => void;
}

/**
 * Sessions, members, pair codes and messages in one SQLite file (node:sqlite, WAL). One relay
 * process owns the file, so sessions, members and each session's recent messages are also held
 * in memory (SessionCache, written through) and most reads never reach SQLite. Writes go through
 * a group commit: each resolves after the COMMIT of its batch, so a 2xx answered after it is in
 * the WAL, and a cursor handed out was committed with its message: a restart continues from it.
 */
export class SqliteStorage extends LocalStorageBase implements RelayStorage {
  private readonly sql: Statements;

  private readonly checkpointer: SqliteCheckpointer;

  private readonly cache = new SessionCache();

  private readonly batch: GroupCommit;

  /** A session's messages held in memory: the cap when it is smaller. */
  private readonly window: number;

  static async open(options: SqliteStorageOptions): Promise<SqliteStorage> {
    return new SqliteStorage(openDatabase(await loadSqlite(), options.path), options);
  }

  private constructor(
    private readonly db: DatabaseSync,
    private readonly options: SqliteStorageOptions,
  ) {
    super();
    this.sql = prepareStatements(db);
    this.checkpointer = new SqliteCheckpointer(options.path, options.log);
    this.window = Math.min(CACHED_MESSAGES, options.maxMessagesPerSession);
    this.batch = new GroupCommit(db, {
      // Evicted only with nothing pending: a session reloaded from its uncommitted rows would
      // count them as committed.
      committed: () => this.cache.evictOverflow(),
      // What the failed batch wrote was rolled back: SQLite is the truth to reload from.
      failed: () => this.cache.clear(),
    });
  }

  async createSession(session: SessionRecord, owner?: SessionOwner): Promise<CreateSessionResult> {
    return this.batch.write(() => {
      if (this.sql.sessionExists.get(session.sessionId)) return 'taken';
      if (owner) {
        const live = this.one('ownerCount', owner.address, session.createdAt);
        if (live >= owner.maxSessions) return 'limit';
      }
      this.insertSession(session, owner?.address ?? null);
      this.cache.set(session.sessionId, cachedSession(session));
      return 'created';
    });
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const entry = this.entry(sessionId);
    return entry && copySession(entry);
  }

  async deleteSession(sessionId: string): Promise<void> {
    return this.batch.write(() => this.dropSession(sessionId));
  }

  async listSessionIds(): Promise<string[]> {
    return (this.sql.sessionIds.all() as Row[]).map((row) => row.session_id as string);
  }

  async touch(
    sessionId: string,
    agentId: string,
    at: number,
    ttlSeconds?: number,
  ): Promise<SessionRecord | undefined> {
    return this.batch.write(() => {
      const entry = this.entry(sessionId);
      if (!entry) return undefined;
      const ttl = ttlSeconds ?? entry.session.ttlSeconds;
      const expiresAt = at + ttl * 1000;
      this.run('touchSession', ttl, expiresAt, sessionId);
      entry.session.ttlSeconds = ttl;
      entry.session.expiresAt = expiresAt;
      const agent = entry.agents.get(agentId);
      if (agent) {
        this.run('touchAgent', at, sessionId, agentId);
        agent.lastSeenAt = at;
      }
      return copySession(entry);
    });
  }

  async addAgent(sessionId: string, agent: AgentRecord): Promise<AddAgentResult> {
    return this.batch.write(() => {
      const entry = this.entry(sessionId);
      if (!entry) return 'missing';
      if (entry.agents.has(agent.agentId)) return 'taken';
      if (entry.agents.size >= entry.session.maxAgents) return 'full';
      this.insertAgent(sessionId, agent);
      entry.agents.set(agent.agentId, { ...agent });
      return 'added';
    });
  }

  async removeAgent(sessionId: string, agentId: string): Promise<boolean> {
    return this.batch.write(() => {
      const entry = this.entry(sessionId);
      if (!entry?.agents.has(agentId)) return false;
      this.run('removeAgent', sessionId, agentId);
      entry.agents.delete(agentId);
      return true;
    });
  }

  async appendMessage(sessionId: string, draft: MessageDraft): Promise<StoredMessage | undefined> {
    return this.batch.write(() => {
      const entry = this.entry(sessionId);
      if (!entry) return undefined;
      const { session } = entry;
      const cursor = session.lastCursor + 1;
      const expiresAt = draft.createdAt + session.ttlSeconds * 1000;
      this.run('advanceCursor', cursor, expiresAt, sessionId);
      const sender = entry.agents.get(draft.agentId);
      if (sender) this.run('touchAgent', draft.createdAt, sessionId, draft.agentId);
      this.run(
        'insertMessage',
        sessionId,
        cursor,
        draft.id,
        draft.agentId,
        draft.text,
        draft.jsonText ?? null,
        draft.verified ? 1 : 0,
        draft.createdAt,
        draft.expiresAt,
      );
      // Cursors in a session are consecutive, so the cap is a cursor range; reads and counts keep
      // to it, and the rows below it go TRIM_BATCH at a time (a delete per send dirtied 3 more
      // pages of the send's ~8).
      const oldest = cursor - this.options.maxMessagesPerSession;
      if (oldest > 0 && oldest % TRIM_BATCH === 0) this.run('trimMessages', sessionId, oldest);
      const message: StoredMessage = { ...draft, cursor };
      session.lastCursor = cursor;
      session.expiresAt = expiresAt;
      if (sender) sender.lastSeenAt = draft.createdAt;
      holdMessage(entry, message, this.window);
      this.batch.afterCommit(() => {
        entry.committed = Math.max(entry.committed, cursor);
        this.notify(sessionId, cursor);
      });
      return message;
    });
  }

  /**
   * A send's checks on the cached session and its append in one synchronous step (no copy of
   * the session, as getSession makes): storage.ts, appendIfAllowed.
   */
  async appendIfAllowed(
    sessionId: string,
    draft: Omit<MessageDraft, 'expiresAt'>,
    check: SendCheck,
  ): Promise<StoredMessage | undefined> {
    const entry = this.entry(sessionId);
    if (!entry || !sendAllowed(entry, draft.agentId, draft.createdAt, check)) return undefined;
    const expiresAt = draft.createdAt + entry.session.ttlSeconds * 1000;
    return this.appendMessage(sessionId, { ...draft, expiresAt });
  }

  async readMessages(
    sessionId: string,
    after: number | undefined,
    limit: number,
    now: number,
  ): Promise<StoredMessage[]> {
    const entry = this.entry(sessionId);
    if (!entry) return [];
    const lowest = Math.max(
      after ?? 0,
      entry.session.lastCursor - this.options.maxMessagesPerSession,
    );
    if (lowest < entry.floor && !entry.filled) {
      const older = this.sql.olderMessages.all(sessionId, entry.floor - this.window, entry.floor);
      fillOlder(entry, (older as Row[]).map(messageFrom), this.window);
    }
    const held = heldMessagesAfter(entry, lowest, limit, now);
    if (held) return held;
    const rows = this.sql.readAfter.all(sessionId, lowest, entry.committed, now, limit) as Row[];
    return rows.map(messageFrom);
  }

  async putPairCode(record: PairCodeRecord): Promise<boolean> {
    return this.batch.write(
      () =>
        this.run(
          'insertPairCode',
          record.code,
          record.sessionId,
          record.createdAt,
          record.expiresAt,
        ) > 0,
    );
  }

  async getPairCode(code: string): Promise<PairCodeRecord | undefined> {
    const row = this.sql.pairCode.get(code) as Row | undefined;
    return row && pairCodeFrom(row);
  }

  async claimPairCode(code: string, at: number): Promise<ClaimPairCodeResult> {
    return this.batch.write(() => {
      const row = this.sql.pairCode.get(code) as Row | undefined;
      if (!row) return 'missing';
      if (row.claimed_at !== null || (row.expires_at as number) <= at) return 'unavailable';
      this.run('claimPairCode', at, code);
      return 'claimed';
    });
  }

  async releasePairCode(code: string): Promise<void> {
    await this.batch.write(() => this.run('releasePairCode', code));
  }

  async prunePairCodes(before: number): Promise<void> {
    await this.batch.write(() => this.run('prunePairCodes', before));
  }

  async dropExpired(now: number): Promise<void> {
    await this.batch.write(() => {
      const expired = this.sql.expiredSessions.all(now) as Row[];
      for (const row of expired) this.dropSession(row.session_id as string);
      this.run('expiredMessages', now);
    });
    this.requests.sweep(now);
  }

  /** Whether any session is stored, expired or not: an import only goes into an empty store. */
  holdsSessions(): boolean {
    return this.sql.anySession.get() !== undefined;
  }

  /**
   * Writes sessions (members, keys and last cursor included) and pair codes (claimed ones stay
   * claimed) in one transaction of its own: an import is whole or absent. Throws on a duplicate,
   * leaving the store as it was. SQLite only, not part of RelayStorage: the one caller is the
   * sessions.json import, which only the SQLite store replaced.
   */
  importRecords(sessions: readonly SessionRecord[], pairCodes: readonly PairCodeRecord[]): void {
    this.batch.flush();
    this.cache.clear();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      for (const session of sessions) this.insertSession(session, null);
      for (const code of pairCodes) {
        this.run(
          'importPairCode',
          code.code,
          code.sessionId,
          code.createdAt,
          code.expiresAt,
          code.claimedAt ?? null,
        );
      }
      this.db.exec('COMMIT');
    } catch (error) {
      this.db.exec('ROLLBACK');
      throw error;
    }
  }

  async counts(now: number): Promise<StorageCounts> {
    return {
      sessions: this.one('countSessions', now),
      agents: this.one('countAgents', now),
      messages: this.one('countMessages', now, now, this.options.maxMessagesPerSession),
    };
  }

  async close(): Promise<void> {
    this.forgetListeners();
    if (!this.db.isOpen) return;
    this.batch.flush();
    this.cache.clear();
    this.db.close();
    await this.checkpointer.close();
  }

  /** The session held in memory, read from SQLite on a miss. */
  private entry(sessionId: string): CachedSession | undefined {
    const held = this.cache.get(sessionId);
    if (held) return held;
    const row = this.sql.session.get(sessionId) as Row | undefined;
    if (!row) return undefined;
    const entry = cachedSession(sessionFrom(row, this.sql.agents.all(sessionId) as Row[]));
    this.cache.set(sessionId, entry);
    if (!this.batch.pending) this.cache.evictOverflow();
    return entry;
  }

  private dropSession(sessionId: string): void {
    this.run('deleteMessages', sessionId);
    this.run('deleteAgents', sessionId);
    this.run('deleteSession', sessionId);
    this.cache.delete(sessionId);
  }

  private insertSession(session: SessionRecord, owner: string | null): void {
    this.run(
      'insertSession',
      session.sessionId,
      session.ttlSeconds,
      session.maxAgents,
      session.greeting ?? null,
      session.creatorAgentId ?? null,
      session.createdAt,
      session.expiresAt,
      session.lastCursor,
      owner,
    );
    for (const agent of session.agents) this.insertAgent(session.sessionId, agent);
  }

  private insertAgent(sessionId: string, agent: AgentRecord): void {
    this.run(
      'insertAgent',
      sessionId,
      agent.agentId,
      agent.sessionKey,
      agent.joinedAt,
      agent.lastSeenAt,
    );
  }

  private run(name: StatementName, ...params: (string | number | null)[]): number {
    return Number(this.sql[name].run(...params).changes);
  }

  private one(name: StatementName, ...params: (string | number | null)[]): number {
    return (this.sql[name].get(...params) as Row).n as number;
  }
}
