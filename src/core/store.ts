/**
 * The persistent session store: agent ids, session keys, cursors, aliases and server bindings,
 * in one JSON file (mode 0600) inside a 0700 directory; read positions in small records beside it
 * (cursor-file.ts).
 *
 * Several processes share it (Claude Desktop and Claude Code each run a server). So every
 * read-modify-write takes an exclusive lock file, re-reads the file under it, and writes
 * atomically (temporary file, then rename), so a reader sees one whole version or the other.
 * The file is written by this module alone: `conf` was 55 ms of the server's start-up for one
 * fsync'd atomic write.
 *
 * Damage it did not cause never costs sessions: a file it may not read (EACCES, EPERM) or one
 * written by a newer version is refused with `store_error` and left untouched; an entry that
 * fails the schema is moved to `store.quarantine.json` (reported by `doctor`) while the rest
 * keep working; only a file that is not JSON at all is moved aside whole.
 */
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';
import { z } from 'zod';
import { E2eSessionRecord } from '../protocol/e2e/index.js';
import { CURSOR_PATTERN, maxCursor, parseJsonText } from '../protocol/index.js';
import { type Clock, isoNow, systemClock } from './clock.js';
import { CursorFiles, type ReadPosition } from './cursor-file.js';
import { clientError } from './errors.js';
import { withFileLock } from './file-lock.js';
import type { Logger } from './logger.js';
import { shortId } from './sessions.js';

const STORE_FILE_NAME = 'store.json';
const QUARANTINE_FILE_NAME = 'store.quarantine.json';
/** The store's own tree is two levels deep (`cursors/`, `e2e/`); deeper is not ours to judge. */
const MAX_WALK_DEPTH = 3;
/** The store format this version reads and writes. */
export const STORE_VERSION = 1;

const SessionRole = z.enum(['creator', 'member']);

export const StoredSession = z.object({
  sessionId: z.string().min(1),
  server: z.string().min(1),
  agentId: z.string().min(1),
  sessionKey: z.string().min(1),
  /** Where reading started; where it stands now is the session's read position (cursor-file.ts). */
  cursor: z.string().regex(CURSOR_PATTERN),
  alias: z.string().optional(),
  role: SessionRole,
  createdAt: z.string(),
  lastUsedAt: z.string(),
  creatorAgentId: z.string().optional(),
  /** When the relay first answered session_not_found; pruned a day later. */
  expiredAt: z.string().optional(),
  /** What the relay last said about the session, for listings without a round trip. */
  lastSeen: z
    .object({
      members: z.array(z.string()).optional(),
      expiresAt: z.string().optional(),
      maxAgents: z.number().optional(),
      ttl: z.number().optional(),
      checkedAt: z.string(),
    })
    .optional(),
  /** End-to-end encryption: the key `S` (when known) and the members seen; `seq` and the replay guard live in e2e/ (e2e-state-file.ts). */
  e2e: E2eSessionRecord.optional(),
});
export type StoredSession = z.infer<typeof StoredSession>;

export const StoreData = z.object({
  version: z.literal(1),
  defaultAgentId: z.string().optional(),
  defaultServer: z.string().optional(),
  sessions: z.record(z.string(), StoredSession),
});
export type StoreData = z.infer<typeof StoreData>;

const emptyStore = (): StoreData => ({ version: 1, sessions: {} });

/** The file's frame, checked before its entries: sessions are checked one by one. */
const StoreFrame = StoreData.extend({ sessions: z.record(z.string(), z.unknown()) });

/** An entry that failed the schema, kept aside for a human. */
export interface QuarantinedEntry {
  sessionId: string;
  problem: string;
  quarantinedAt: string;
  entry: unknown;
}

/** The store as read: its valid data, and the entries that failed the schema. */
interface Parsed {
  data: StoreData;
  invalid: Map<string, { entry: unknown; problem: string }>;
}

/**
 * A file-system failure on the store as a `store_error` that names the path and the fix; the
 * file is never touched after one.
 */
export function storeAccessError(path: string, error: unknown, action: 'read' | 'write') {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? 'error';
  const denied = code === 'EACCES' || code === 'EPERM';
  const fix = denied
    ? ` It was left untouched. Fix: let this user (uid ${process.getuid?.() ?? '?'}) ${action} it, e.g. \`chown $(id -u) ${path} && chmod 600 ${path}\`, or point NEXUS_MCP_HOME at a directory of its own.`
    : ' It was left untouched; check the disk and the path, or point NEXUS_MCP_HOME at another directory.';
  return clientError(
    'store_error',
    `Cannot ${action} the session store ${path}: ${denied ? 'permission denied' : 'file system error'} (${code}).${fix}`,
  );
}

/** The platform's config dir for this app; `NEXUS_MCP_HOME` (read by configFromEnv) wins over it. */
export function defaultStoreDir(): string {
  return envPaths('nexus-messaging-mcp', { suffix: '' }).config;
}

export interface SessionStoreOptions {
  dir: string;
  logger: Logger;
  clock?: Clock;
}

export class SessionStore {
  readonly dir: string;
  readonly file: string;
  /** Entries that failed the schema, moved out of the store file (see `quarantined`). */
  readonly quarantineFile: string;
  private readonly lockFile: string;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly cursors: CursorFiles;
  private validatedText: string | undefined;
  /** The parsed store and the file identity (inode, size, mtime) it was parsed from. */
  private cached: { identity: string; data: StoreData } | undefined;

  constructor(options: SessionStoreOptions) {
    this.dir = options.dir;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      throw clientError(
        'store_error',
        `Cannot create the store directory ${this.dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}): create it, or point NEXUS_MCP_HOME at a directory this user may write.`,
      );
    }
    try {
      chmodSync(this.dir, 0o700);
    } catch (error) {
      // Another user's directory: the calls that touch it say what is wrong; doctor shows modes.
      this.logger.warn(
        `Cannot set the store directory ${this.dir} to mode 0700 (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      );
    }
    this.file = join(this.dir, STORE_FILE_NAME);
    this.quarantineFile = join(this.dir, QUARANTINE_FILE_NAME);
    this.lockFile = join(this.dir, 'store.lock');
    this.cursors = new CursorFiles(this.dir);
    this.recoverIfDamaged();
  }

  // ---- reads (no lock: the file is replaced atomically, so a read sees a whole version) ----

  /**
   * The store file as parsed; cursors here are only where reading started (see `position`).
   * Parsed once per version of the file: a stat decides whether it changed. Do not mutate.
   */
  read(): StoreData {
    const identity = this.identity();
    if (identity !== undefined && this.cached?.identity === identity) return this.cached.data;
    const parsed = this.tryRead();
    if (parsed && parsed.invalid.size === 0) {
      if (identity !== undefined) this.cached = { identity, data: parsed.data };
      return parsed.data;
    }
    return this.transaction((fresh) => fresh, false);
  }

  /** Every session with its current read position. */
  all(): StoredSession[] {
    return Object.values(this.read().sessions).map((session) => this.withPosition(session));
  }

  /** Every session as the store file holds it, without reading any read position. */
  list(): StoredSession[] {
    return Object.values(this.read().sessions);
  }

  get(sessionId: string): StoredSession | undefined {
    const session = this.read().sessions[sessionId];
    return session && this.withPosition(session);
  }

  /** A session with its cursor and last use taken from its read position. */
  withPosition(session: StoredSession): StoredSession {
    const position = this.cursors.read(session.sessionId);
    if (!position) return session;
    return {
      ...session,
      cursor: maxCursor(session.cursor, position.cursor),
      ...(position.lastUsedAt !== undefined &&
        position.lastUsedAt > session.lastUsedAt && { lastUsedAt: position.lastUsedAt }),
    };
  }

  /** Where reading a session stands: its cursor and any ranges given back to hand over again. */
  position(session: StoredSession): ReadPosition {
    return merged(session, this.cursors.read(session.sessionId));
  }

  /**
   * The compare-and-advance step for read positions: `fn` sees the current position and returns
   * the next one (or none to write nothing), under the session's own lock.
   */
  movePosition<T>(
    session: StoredSession,
    fn: (current: ReadPosition) => { next?: ReadPosition; result: T },
  ): T {
    return this.cursors.update(session.sessionId, (record) => fn(merged(session, record)));
  }

  // ---- writes ------------------------------------------------------------------------------

  /**
   * Runs `fn` on the freshest data under the lock and writes what it leaves. A write that only
   * moves cursors or refreshes what the relay last said may skip the fsync (`durable: false`):
   * a power cut can then undo it, which at worst shows a message twice; keys and memberships are
   * always written durably.
   */
  update<T>(fn: (data: StoreData) => T, options: { durable?: boolean } = {}): T {
    return this.transaction(fn, options.durable === false ? 'relaxed' : 'durable');
  }

  put(session: StoredSession): void {
    this.update((data) => {
      const existing = data.sessions[session.sessionId];
      // A rejoin keeps the alias it had unless a new one is given.
      const alias = session.alias ?? existing?.alias;
      if (alias !== undefined) assertAliasFree(data, alias, session.sessionId);
      data.sessions[session.sessionId] = { ...session, ...(alias !== undefined && { alias }) };
      // A new membership reads from the cursor it was put with, not where an old one stopped.
      this.cursors.remove(session.sessionId);
    });
  }

  patch(
    sessionId: string,
    patch: Partial<Omit<StoredSession, 'sessionId' | 'cursor'>>,
    options: { durable?: boolean } = {},
  ): StoredSession | undefined {
    return this.update((data) => {
      const existing = data.sessions[sessionId];
      if (!existing) return undefined;
      const next = { ...existing, ...patch };
      data.sessions[sessionId] = next;
      return next;
    }, options);
  }

  remove(sessionId: string): boolean {
    return this.update((data) => {
      if (!data.sessions[sessionId]) return false;
      delete data.sessions[sessionId];
      this.cursors.remove(sessionId);
      return true;
    });
  }

  /** Moves a session's cursor forward (never back); returns the cursor now stored. */
  advanceCursor(sessionId: string, cursor: string): string | undefined {
    return this.advanceCursors(new Map([[sessionId, cursor]])).get(sessionId)?.cursor;
  }

  /**
   * advanceCursor for several sessions, each under its own lock; returns each session as now
   * stored (sessions no longer in the store are left out).
   */
  advanceCursors(cursors: ReadonlyMap<string, string>): Map<string, StoredSession> {
    const now = isoNow(this.clock);
    const stored = new Map<string, StoredSession>();
    for (const [sessionId, cursor] of cursors) {
      const session = this.read().sessions[sessionId];
      if (!session) continue;
      const moved = this.movePosition(session, (current) => {
        const next = { ...current, cursor: maxCursor(current.cursor, cursor), lastUsedAt: now };
        return { next, result: next.cursor };
      });
      stored.set(sessionId, { ...session, cursor: moved, lastUsedAt: now });
    }
    return stored;
  }

  setAlias(sessionId: string, alias: string | undefined): StoredSession {
    return this.update((data) => {
      const session = data.sessions[sessionId];
      if (!session)
        throw clientError('unknown_session', 'That session is no longer in the local store.');
      if (alias === undefined) delete session.alias;
      else {
        assertAliasFree(data, alias, sessionId);
        session.alias = alias;
      }
      return session;
    });
  }

  /** The install's agent id: generated once and kept, unless the caller names one. */
  defaultAgentId(generate: () => string): string {
    const current = this.read().defaultAgentId;
    if (current) return current;
    return this.update((data) => {
      data.defaultAgentId ??= generate();
      return data.defaultAgentId;
    });
  }

  setDefaultServer(server: string | undefined): void {
    this.update((data) => {
      if (server === undefined) delete data.defaultServer;
      else data.defaultServer = server;
    });
  }

  /** Drops sessions found expired more than `ageMs` ago; returns how many went. */
  pruneExpired(ageMs: number): number {
    const cutoff = this.clock.now() - ageMs;
    const stale = this.list().filter(
      (session) => session.expiredAt && Date.parse(session.expiredAt) <= cutoff,
    );
    if (stale.length === 0) return 0;
    return this.update((data) => {
      let removed = 0;
      for (const { sessionId } of stale) {
        const session = data.sessions[sessionId];
        if (session?.expiredAt && Date.parse(session.expiredAt) <= cutoff) {
          delete data.sessions[sessionId];
          removed++;
        }
      }
      return removed;
    });
  }

  /** The entries moved to the quarantine file so far (for `doctor`). */
  quarantined(): QuarantinedEntry[] {
    try {
      const raw = JSON.parse(readFileSync(this.quarantineFile, 'utf8')) as unknown;
      return Array.isArray(raw) ? (raw as QuarantinedEntry[]) : [];
    } catch {
      return [];
    }
  }

  fileModes(): { dir: number | undefined; file: number | undefined } {
    const mode = (path: string) => {
      try {
        return statSync(path).mode & 0o777;
      } catch {
        return undefined;
      }
    };
    return { dir: mode(this.dir), file: mode(this.file) };
  }

  /**
   * Everything under the store directory that other users could read or enter: read positions,
   * encryption state, locks and the quarantine file hold what the store file holds, so they
   * answer to the same 0600 / 0700 rule. Paths relative to the store directory, in walk order;
   * symbolic links are reported, never followed.
   */
  looseEntries(limit = 20): { path: string; mode: number }[] {
    const loose: { path: string; mode: number }[] = [];
    const walk = (relative: string, depth: number) => {
      let names: string[];
      try {
        names = readdirSync(join(this.dir, relative));
      } catch {
        return;
      }
      for (const name of names.sort()) {
        if (loose.length >= limit) return;
        const path = relative === '' ? name : join(relative, name);
        let stat: Stats;
        try {
          stat = lstatSync(join(this.dir, path));
        } catch {
          continue; // removed meanwhile (a lock released)
        }
        const mode = stat.mode & 0o777;
        if (stat.isSymbolicLink() || (mode & 0o077) !== 0) loose.push({ path, mode });
        if (stat.isDirectory() && depth < MAX_WALK_DEPTH) walk(path, depth + 1);
      }
    };
    walk('', 1);
    return loose;
  }

  // ---- internals ---------------------------------------------------------------------------

  private identity(): string | undefined {
    try {
      const stat = statSync(this.file, { bigint: true });
      return `${stat.ino}:${stat.size}:${stat.mtimeNs}`;
    } catch {
      return undefined;
    }
  }

  /**
   * The store as the file holds it now; undefined when it is not a store file at all. A file
   * that cannot be read, or that a newer version wrote, is refused: the caller must not
   * replace it.
   */
  private tryRead(): Parsed | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT')
        return { data: emptyStore(), invalid: new Map() };
      throw storeAccessError(this.file, error, 'read');
    }
    return this.parse(text);
  }

  /**
   * Parses and validates a store file's text. Every call reads the file, but the schema check is
   * skipped for text already checked once: a poll reads the store several times, and validating
   * every session each time cost more than the poll's HTTP round trip.
   */
  private parse(text: string): Parsed | undefined {
    const raw = parseJsonText(text);
    if (raw === undefined) return undefined;
    const invalid: Parsed['invalid'] = new Map();
    if (text === this.validatedText) return { data: raw as StoreData, invalid };
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
    if (Object.keys(raw).length === 0) return { data: emptyStore(), invalid };
    const version = (raw as { version?: unknown }).version;
    if (typeof version === 'number' && version > STORE_VERSION) {
      throw clientError(
        'store_error',
        `The session store ${this.file} was written by a newer version of nexus-messaging-mcp (store format ${version}; this one reads ${STORE_VERSION}). It was left untouched: upgrade nexus-messaging-mcp, or point NEXUS_MCP_HOME at another directory.`,
      );
    }
    const frame = StoreFrame.safeParse(raw);
    if (!frame.success) return undefined;
    const sessions: StoreData['sessions'] = {};
    for (const [sessionId, entry] of Object.entries(frame.data.sessions)) {
      const checked = StoredSession.safeParse(entry);
      if (checked.success && checked.data.sessionId === sessionId)
        sessions[sessionId] = checked.data;
      else
        invalid.set(sessionId, {
          entry,
          problem: checked.success
            ? 'its sessionId does not match its key'
            : checked.error.issues
                .slice(0, 3)
                .map((issue) => `${issue.path.join('.') || 'entry'}: ${issue.message}`)
                .join('; '),
        });
    }
    const data: StoreData = { ...frame.data, sessions };
    if (invalid.size === 0) this.validatedText = text;
    return { data, invalid };
  }

  private recoverIfDamaged(): void {
    let parsed: Parsed | undefined;
    try {
      parsed = this.tryRead();
    } catch (error) {
      // Refused (unreadable, newer): every call says so; the server itself keeps running.
      this.logger.warn((error as Error).message);
      return;
    }
    if (parsed && parsed.invalid.size === 0) return;
    try {
      this.transaction(() => undefined, false);
    } catch (error) {
      this.logger.warn((error as Error).message);
    }
  }

  private transaction<T>(fn: (data: StoreData) => T, write: 'durable' | 'relaxed' | false): T {
    return this.locked(() => {
      const parsed = this.tryRead();
      let data: StoreData;
      if (!parsed) {
        this.moveAside();
        data = emptyStore();
        this.write(data);
      } else {
        data = parsed.data;
        if (parsed.invalid.size > 0) {
          this.quarantine(parsed.invalid);
          this.write(data);
        }
      }
      const result = fn(data);
      if (write === 'durable') this.write(data);
      else if (write === 'relaxed') this.writeWithoutSync(data);
      return result;
    });
  }

  private locked<T>(fn: () => T): T {
    return withFileLock(this.lockFile, `the session store in ${this.dir}`, fn);
  }

  /** Keys and memberships: the atomic replace, with the data on disk before the rename. */
  private write(data: StoreData): void {
    this.replace(data, true);
  }

  /**
   * The same atomic replace without the fsync, which costs about a millisecond per write: for
   * what the relay last said, which a power cut may lose.
   */
  private writeWithoutSync(data: StoreData): void {
    this.replace(data, false);
  }

  private replace(data: StoreData, durable: boolean): void {
    const temporary = `${this.file}.${process.pid}.tmp`;
    const text = JSON.stringify(data, undefined, '\t');
    try {
      if (durable) {
        const fd = openSync(temporary, 'w', 0o600);
        try {
          writeSync(fd, text);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
      } else writeFileSync(temporary, text, { mode: 0o600 });
      renameSync(temporary, this.file);
      // Written from checked data by this code: no need to check it again when read back.
      this.validatedText = text;
    } catch (error) {
      throw storeAccessError(this.file, error, 'write');
    }
  }

  /**
   * Moves entries that failed the schema to the quarantine file (appended, mode 0600) and says
   * so once each; the store file is rewritten without them by the caller.
   */
  private quarantine(invalid: Parsed['invalid']): void {
    const now = isoNow(this.clock);
    const added = [...invalid].map(
      ([sessionId, { entry, problem }]): QuarantinedEntry => ({
        sessionId,
        problem,
        quarantinedAt: now,
        entry,
      }),
    );
    const all = [...(existsSync(this.quarantineFile) ? this.quarantined() : []), ...added];
    try {
      writeFileSync(`${this.quarantineFile}.tmp`, JSON.stringify(all, undefined, '\t'), {
        mode: 0o600,
      });
      renameSync(`${this.quarantineFile}.tmp`, this.quarantineFile);
    } catch (error) {
      throw storeAccessError(this.quarantineFile, error, 'write');
    }
    for (const { sessionId, problem } of added) {
      this.logger.warn(
        `Session ${shortId(sessionId)} in ${this.file} is invalid (${problem}); it was moved to ${this.quarantineFile} and the other sessions keep working.`,
      );
    }
  }

  /** Keeps a damaged store for a human to look at, and says where, once. */
  private moveAside(): void {
    const target = `${this.file}.corrupt-${isoNow(this.clock).replace(/[:.]/g, '-')}`;
    try {
      renameSync(this.file, target);
      this.logger.warn(
        `The session store ${this.file} could not be read; it was moved to ${target} and a new store was started.`,
      );
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw clientError(
          'store_error',
          `The session store ${this.file} is damaged and could not be moved aside.`,
        );
      }
    }
  }
}

function assertAliasFree(data: StoreData, alias: string, sessionId: string): void {
  const owner = Object.values(data.sessions).find(
    (session) => session.alias === alias && session.sessionId !== sessionId,
  );
  if (owner) {
    throw clientError(
      'alias_taken',
      `The alias "${alias}" already names session ${shortId(owner.sessionId)}.`,
    );
  }
}

function merged(session: StoredSession, record: ReadPosition | undefined): ReadPosition {
  if (!record) return { cursor: session.cursor, returned: [] };
  return { ...record, cursor: maxCursor(session.cursor, record.cursor) };
}
