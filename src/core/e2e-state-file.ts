/**
 * The fast-changing half of a session's encryption state, beside the store: the last `seq` this
 * agent sealed with, per (session, own agent id), and the replay guard, per session, in `e2e/`. They change on
 * every encrypted send and poll, and rewriting the whole store file (temporary file, fsync,
 * rename) for each cost more than the send itself; here a change is a lock and one write in
 * place (the guard's lock is the session's read-position lock, held by the caller). The key and the members seen stay in the store (store.ts), which changes rarely.
 *
 * `seq` must never be used twice, even after a power cut: its small record is written in place
 * and synced once per block of `seq`s (see takeSeq). The guard may be lost (it is then rebuilt from
 * the next messages, at worst missing a replay), so it is written without a sync; a torn guard
 * reads as none.
 */
import { fdatasyncSync, fstatSync, mkdirSync, readFileSync, readSync, writeSync } from 'node:fs';
import { uptime } from 'node:os';
import { join } from 'node:path';
import type { E2eSessionRecord } from '../protocol/e2e/index.js';
import { E2eSessionRecord as RecordSchema } from '../protocol/e2e/index.js';
import { clientError } from './errors.js';
import { withFileLock } from './file-lock.js';
import { OpenFiles } from './open-files.js';

const SEQ_BYTES = 128;
/** One buffer for every `seq` record read or written: all of it synchronous. */
const SEQ_BUFFER = Buffer.alloc(SEQ_BYTES);
/** `seq`s reserved by one synced write. */
const SEQ_BLOCK = 64;
const BOOT_TOLERANCE_S = 10;
/** Files kept open at once (two per encrypted session); the least recently opened close first. */
const MAX_OPEN = 128;
/** The guard's largest encoding: 1,024 notes and a few hundred senders' windows. */
const MAX_GUARD_BYTES = 256 * 1024;

export type StoredGuard = E2eSessionRecord['guard'];
const GuardSchema = RecordSchema.shape.guard;

export class E2eStateFiles {
  private readonly dir: string;
  private made = false;
  /** Each guard file's text as last read or written, parsed: most reads find it unchanged. */
  private readonly parsed = new Map<string, { text: string; guard: StoredGuard }>();
  private readonly files = new OpenFiles(MAX_OPEN);
  private readonly paths = new Map<string, string>();

  constructor(storeDir: string) {
    this.dir = join(storeDir, 'e2e');
  }

  /** The last `seq` used, or 0. */
  seq(sessionId: string, agentId: string): number {
    return this.withFile(this.path(sessionId, agentId, 'seq'), false, (fd) => readSeq(fd).seq) ?? 0;
  }

  /**
   * Takes the next `seq` under the (session, agent) lock: two processes of one agent never seal
   * with one `seq`. `floor` is the last `seq` recorded elsewhere (the store's record).
   *
   * A sync per send cost more than the send, so `seq`s are reserved in blocks: the record is
   * synced only when a block is used up, together with the boot it was written in. After a
   * reboot (a power cut may have undone the unsynced `seq`s) numbering resumes past the block,
   * so a `seq` is never reused: peers see a gap once, never a replay.
   */
  takeSeq(sessionId: string, agentId: string, floor: number): number {
    return this.locked(sessionId, agentId, () =>
      this.withFile(this.path(sessionId, agentId, 'seq'), true, (fd) => {
        const stored = readSeq(fd);
        const boot = bootMark();
        const rebooted = stored.reserved > 0 && !sameBoot(stored.boot, boot);
        const last = Math.max(stored.seq, floor, rebooted ? stored.reserved : 0);
        const seq = last + 1;
        const sync = rebooted || seq > stored.reserved;
        const next: SeqRecord = sync
          ? { seq, reserved: seq + SEQ_BLOCK, boot }
          : { ...stored, seq };
        const bytes = SEQ_BUFFER.fill(0x20);
        bytes.write(JSON.stringify({ s: next.seq, r: next.reserved, b: next.boot }), 0, 'utf8');
        writeSync(fd, bytes, 0, SEQ_BYTES, 0);
        if (sync) fdatasyncSync(fd);
        return seq;
      }),
    ) as number;
  }

  /** The stored guard, or undefined when there is none (or it was torn by a crash). */
  guard(sessionId: string): StoredGuard | undefined {
    const path = this.guardPath(sessionId);
    return this.withFile(path, false, (fd) => this.readGuard(path, fd));
  }

  /**
   * Reads the guard and writes back what `fn` returns; `next: undefined` writes nothing. The
   * caller holds the session's read-position lock (the one lock every guard write is made
   * under: e2e-sessions.ts), so this is one step for every process sharing the store.
   */
  updateGuard<T>(
    sessionId: string,
    fn: (current: StoredGuard | undefined) => { next?: StoredGuard; result: T },
  ): T {
    const path = this.guardPath(sessionId);
    this.ensureDir();
    return this.withFile(path, true, (fd) => {
      const size = fstatSync(fd).size;
      const { next, result } = fn(this.readGuard(path, fd, size));
      if (next) {
        const json = Buffer.from(JSON.stringify(next), 'utf8');
        // A shorter guard is padded with spaces (JSON allows them) rather than truncated: the
        // file keeps its size, so the write changes no metadata.
        const bytes =
          json.length >= size
            ? json
            : Buffer.concat([json, Buffer.alloc(size - json.length, 0x20)]);
        writeSync(fd, bytes, 0, bytes.length, 0);
        // Written from checked data: no need to check it again when read back.
        this.parsed.set(path, { text: bytes.toString('utf8'), guard: next });
      }
      return result;
    }) as T;
  }

  /** Parsed once per text: a poll reads the guard at least once, usually unchanged. */
  private readGuard(path: string, fd: number, size = fstatSync(fd).size): StoredGuard | undefined {
    if (size === 0 || size > MAX_GUARD_BYTES) return undefined;
    const buffer = Buffer.alloc(size);
    readSync(fd, buffer, 0, size, 0);
    const text = buffer.toString('utf8');
    const known = this.parsed.get(path);
    if (known?.text === text) return known.guard;
    let guard: StoredGuard | undefined;
    try {
      const result = GuardSchema.safeParse(JSON.parse(text));
      guard = result.success ? result.data : undefined;
    } catch {
      guard = undefined;
    }
    if (guard) this.parsed.set(path, { text, guard });
    return guard;
  }

  private locked<T>(sessionId: string, agentId: string, fn: () => T): T {
    return this.lockedPath(this.path(sessionId, agentId, 'lock'), fn);
  }

  private lockedPath<T>(lockFile: string, fn: () => T): T {
    this.ensureDir();
    return withFileLock(lockFile, 'the encryption state of a session', fn);
  }

  private withFile<T>(path: string, create: boolean, fn: (fd: number) => T): T | undefined {
    let fd: number | undefined;
    try {
      fd = this.files.get(path, create);
    } catch (error) {
      throw stateError(this.dir, error);
    }
    if (fd === undefined) return undefined;
    try {
      return fn(fd);
    } catch (error) {
      throw stateError(this.dir, error);
    }
  }

  private ensureDir(): void {
    if (this.made) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.made = true;
  }

  /** The guard judges what others sent: per session, whichever agent id this store speaks as. */
  private guardPath(sessionId: string): string {
    return this.named(`${sessionId}\0guard`, () => `${safe(sessionId)}.guard`);
  }

  private path(sessionId: string, agentId: string, kind: 'seq' | 'lock'): string {
    return this.named(`${sessionId}\0${agentId}\0${kind}`, () =>
      [safe(sessionId), safe(agentId), kind].join('.'),
    );
  }

  /** Paths are built once per file: a join and three replaces per call added up. */
  private named(id: string, name: () => string): string {
    let path = this.paths.get(id);
    if (path === undefined) {
      path = join(this.dir, name());
      if (this.paths.size >= MAX_OPEN * 4) this.paths.clear();
      this.paths.set(id, path);
    }
    return path;
  }
}

interface SeqRecord {
  /** The last `seq` used. */
  seq: number;
  /** The end of the block reserved by the last synced write. */
  reserved: number;
  /** The boot that write happened in. */
  boot: string;
}

/** Session ids are hex and agent ids letters, digits, - and _; anything else stays out. */
function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9_-]/g, '_');
}

function readSeq(fd: number): SeqRecord {
  const length = readSync(fd, SEQ_BUFFER, 0, SEQ_BYTES, 0);
  try {
    const { s, r, b } = JSON.parse(SEQ_BUFFER.toString('utf8', 0, length)) as Record<
      string,
      unknown
    >;
    if (Number.isSafeInteger(s) && Number.isSafeInteger(r) && typeof b === 'string') {
      return { seq: s as number, reserved: r as number, boot: b };
    }
  } catch {
    // never written, or torn: a fresh record (the floor still applies)
  }
  return { seq: 0, reserved: 0, boot: '' };
}

let boot: string | undefined;

/**
 * This boot of the machine: Linux's boot id, else the boot time in seconds from the uptime
 * (compared with a tolerance, since it moves with clock adjustments).
 */
function bootMark(): string {
  if (boot !== undefined) return boot;
  try {
    boot = `id:${readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()}`;
  } catch {
    boot = String(Math.round(Date.now() / 1000 - uptime()));
  }
  return boot;
}

function sameBoot(a: string, b: string): boolean {
  if (a.startsWith('id:') || b.startsWith('id:')) return a === b;
  return Math.abs(Number(a) - Number(b)) <= BOOT_TOLERANCE_S;
}

function stateError(dir: string, error: unknown) {
  if (error instanceof Error && error.name === 'NexusError') return error;
  return clientError(
    'store_error',
    `Cannot read or write the encryption state in ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
  );
}
