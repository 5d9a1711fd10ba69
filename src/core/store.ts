/**
 * The persistent session store: agent ids, session keys, cursors, aliases and server bindings,
 * in one conf-managed JSON file (mode 0600) inside a 0700 directory.
 *
 * Several processes share it (Claude Desktop and Claude Code each run a server), and conf
 * promises nothing across processes. So every read-modify-write takes an exclusive lock file,
 * re-reads the file under it, and writes atomically (conf writes via rename). Cursors only ever
 * move forward under that lock, whichever process writes last.
 */
import {
  chmodSync,
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import Conf from 'conf';
import envPaths from 'env-paths';
import { z } from 'zod';
import { CURSOR_PATTERN, maxCursor } from '../protocol/index.js';
import { type Clock, systemClock } from './clock.js';
import { clientError, NexusError } from './errors.js';
import type { Logger } from './logger.js';

export const STORE_FILE_NAME = 'store.json';
const LOCK_TIMEOUT_MS = 10_000;
/** A lock older than this whose owner cannot be checked is taken as left by a crash. */
const LOCK_STALE_MS = 30_000;

export const SessionRole = z.enum(['creator', 'member']);
export type SessionRole = z.infer<typeof SessionRole>;

export const StoredSession = z.object({
  sessionId: z.string().min(1),
  server: z.string().min(1),
  agentId: z.string().min(1),
  sessionKey: z.string().min(1),
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

/** The platform's config dir for this app; `NEXUS_MCP_HOME` (read by configFromEnv) wins over it. */
export function defaultStoreDir(): string {
  return envPaths('nexus-messaging-mcp', { suffix: '' }).config;
}

export interface SessionStoreOptions {
  dir: string;
  logger: Logger;
  clock?: Clock;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export class SessionStore {
  readonly dir: string;
  readonly file: string;
  private readonly lockFile: string;
  private readonly conf: Conf<StoreData>;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private validatedText: string | undefined;

  constructor(options: SessionStoreOptions) {
    this.dir = options.dir;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      chmodSync(this.dir, 0o700);
    } catch (error) {
      throw clientError(
        'store_error',
        `Cannot create the store directory ${this.dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      );
    }
    this.file = join(this.dir, STORE_FILE_NAME);
    this.lockFile = join(this.dir, 'store.lock');
    // conf throws on a damaged file as soon as it is constructed: recover before, at start-up.
    this.recoverIfDamaged();
    this.conf = new Conf<StoreData>({
      projectName: 'nexus-messaging-mcp',
      cwd: this.dir,
      configName: 'store',
      configFileMode: 0o600,
      clearInvalidConfig: false,
      accessPropertiesByDotNotation: false,
    });
  }

  // ---- reads (no lock: conf replaces the file atomically, so a read sees a whole version) ----

  read(): StoreData {
    const data = this.tryRead();
    if (data) return data;
    return this.transaction((fresh) => fresh, false);
  }

  all(): StoredSession[] {
    return Object.values(this.read().sessions);
  }

  get(sessionId: string): StoredSession | undefined {
    return this.read().sessions[sessionId];
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
      return true;
    });
  }

  /** Moves a session's cursor forward (never back); returns the cursor now stored. */
  advanceCursor(sessionId: string, cursor: string): string | undefined {
    return this.advanceCursors(new Map([[sessionId, cursor]])).get(sessionId)?.cursor;
  }

  /**
   * advanceCursor for several sessions under one lock and one write; returns each session as
   * now stored (sessions no longer in the store are left out).
   */
  advanceCursors(cursors: ReadonlyMap<string, string>): Map<string, StoredSession> {
    return this.update(
      (data) => {
        const now = new Date(this.clock.now()).toISOString();
        const stored = new Map<string, StoredSession>();
        for (const [sessionId, cursor] of cursors) {
          const session = data.sessions[sessionId];
          if (!session) continue;
          session.cursor = maxCursor(session.cursor, cursor);
          session.lastUsedAt = now;
          stored.set(sessionId, session);
        }
        return stored;
      },
      { durable: false },
    );
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
    const stale = this.all().filter(
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

  // ---- internals ---------------------------------------------------------------------------

  /** The store as the file holds it now; undefined when the file is damaged or unreadable. */
  private tryRead(): StoreData | undefined {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'ENOENT' ? emptyStore() : undefined;
    }
    return this.parse(text);
  }

  /**
   * Parses and validates a store file's text. Every call reads the file, but the schema check is
   * skipped for text already checked once: a poll reads the store several times, and validating
   * every session each time cost more than the poll's HTTP round trip.
   */
  private parse(text: string): StoreData | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (text === this.validatedText) return raw as StoreData;
    if (raw && typeof raw === 'object' && Object.keys(raw).length === 0) return emptyStore();
    const parsed = StoreData.safeParse(raw);
    if (!parsed.success) return undefined;
    this.validatedText = text;
    return parsed.data;
  }

  private recoverIfDamaged(): void {
    const damaged = () => this.tryRead() === undefined;
    if (!damaged()) return;
    this.lock();
    try {
      if (damaged()) this.moveAside();
    } finally {
      this.unlock();
    }
  }

  private transaction<T>(fn: (data: StoreData) => T, write: 'durable' | 'relaxed' | false): T {
    this.lock();
    try {
      let data = this.tryRead();
      if (!data) {
        this.moveAside();
        data = emptyStore();
        this.write(data);
      }
      const result = fn(data);
      if (write === 'durable') this.write(data);
      else if (write === 'relaxed') this.writeWithoutSync(data);
      return result;
    } finally {
      this.unlock();
    }
  }

  private write(data: StoreData): void {
    try {
      this.conf.store = data;
    } catch (error) {
      if (error instanceof NexusError) throw error;
      throw clientError(
        'store_error',
        `Cannot write the session store ${this.file} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      );
    }
  }

  /**
   * The same atomic replace as conf's write (temporary file, then rename, so readers see one
   * whole version or the other) without its fsync, which costs about a millisecond per write.
   */
  private writeWithoutSync(data: StoreData): void {
    const temporary = `${this.file}.${process.pid}.tmp`;
    const text = JSON.stringify(data, undefined, '\t');
    try {
      writeFileSync(temporary, text, { mode: 0o600 });
      renameSync(temporary, this.file);
      // Written from checked data by this code: no need to check it again when read back.
      this.validatedText = text;
    } catch (error) {
      throw clientError(
        'store_error',
        `Cannot write the session store ${this.file} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      );
    }
  }

  /** Keeps a damaged store for a human to look at, and says where, once. */
  private moveAside(): void {
    const target = `${this.file}.corrupt-${new Date(this.clock.now()).toISOString().replace(/[:.]/g, '-')}`;
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

  private lock(): void {
    const deadline = Date.now() + LOCK_TIMEOUT_MS;
    for (;;) {
      try {
        const fd = openSync(this.lockFile, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          throw clientError(
            'store_error',
            `Cannot lock the session store in ${this.dir} (${code ?? 'error'}).`,
          );
        }
      }
      if (this.lockIsStale()) {
        try {
          unlinkSync(this.lockFile);
        } catch {
          // another process broke it first
        }
        continue;
      }
      if (Date.now() > deadline) {
        throw clientError(
          'store_error',
          `The session store in ${this.dir} stayed locked for ${LOCK_TIMEOUT_MS} ms; if no other nexus process is running, delete ${this.lockFile}.`,
        );
      }
      // Locks are held for a file read and write: a few milliseconds of sleep is plenty.
      Atomics.wait(sleeper, 0, 0, 1 + Math.floor(Math.random() * 4));
    }
  }

  private lockIsStale(): boolean {
    try {
      const owner = Number.parseInt(readFileSync(this.lockFile, 'utf8'), 10);
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid) {
        try {
          process.kill(owner, 0);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
        }
      }
      return Date.now() - statSync(this.lockFile).mtimeMs > LOCK_STALE_MS;
    } catch {
      // Gone or unreadable between our attempts: just try again.
      return false;
    }
  }

  private unlock(): void {
    try {
      unlinkSync(this.lockFile);
    } catch {
      // nothing to release
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
      `The alias "${alias}" already names session ${owner.sessionId.slice(0, 12)}.`,
    );
  }
}
