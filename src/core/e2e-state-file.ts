/**
 * The fast-changing half of a session's encryption state, beside the store: the last `seq` this
 * agent sealed with, per (session, own agent id), and the replay guard, per session, in `e2e/`.
 * They change on every encrypted send and poll, and rewriting the whole store file (temporary
 * file, fsync, rename) for each cost more than the send itself. Here a `seq` is one rename (the
 * file's name is the number: takeSeq), and a guard change is one write in place under the
 * session's read-position lock, held by the caller. The key and the members seen stay in the
 * store (store.ts), which changes rarely.
 *
 * `seq` must never be used twice, even after a power cut: the numbering file's content, a
 * reservation synced once per block of `seq`s, says where to resume (see takeSeq). The guard
 * may be lost (it is then rebuilt from the next messages, at worst missing a replay), so it is
 * written without a sync. It is written in place, so it is read under the same lock it is
 * written under: a read made during another process's write can parse as a valid guard that
 * lacks what that write added. A guard torn by a crash mid-write reads as none when it no longer
 * parses.
 *
 * Files are named by a hash of the session id, as read positions are: a path can reach an error
 * message (a lock that stayed held), and a full session id must never. Earlier versions named
 * them by the session id itself; what those left is still read (a guard to start from, `seq`s
 * as a floor), never written.
 */

import { createHash } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { uptime } from 'node:os';
import { join } from 'node:path';
import type { E2eSessionRecord } from '../protocol/e2e/index.js';
import { E2eSessionRecord as RecordSchema } from '../protocol/e2e/index.js';
import { parseJsonText } from '../protocol/index.js';
import { clientError } from './errors.js';
import { withFileLock } from './file-lock.js';
import { OpenFiles } from './open-files.js';

const SEQ_BYTES = 128;
/** One buffer for every `seq` record read or written: all of it synchronous. */
const SEQ_BUFFER = Buffer.alloc(SEQ_BYTES);
/** `seq`s reserved by one synced write. */
const SEQ_BLOCK = 64;
const BOOT_TOLERANCE_S = 10;
/** Looks at a numbering that renames keep moving, before giving up (`store_busy`). */
const MAX_SEQ_ATTEMPTS = 1_000;
/** Looks (1 ms apart) at a numbering directory without its file before it counts as emptied. */
const EMPTY_LOOKS = 3;
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
  /** Where guards are read: most fit the first size, none outgrows MAX_GUARD_BYTES + 1. */
  private buffer = Buffer.alloc(4096);
  /** Per numbering directory: the last `seq` this process took and the reservation it saw. */
  private readonly counters = new Map<string, { seq: number; reserved: number }>();
  /** Per (session, agent): the floor the files of earlier layouts set (legacyFloor). */
  private readonly legacyFloors = new Map<string, number>();

  constructor(storeDir: string) {
    this.dir = join(storeDir, 'e2e');
  }

  /** The last `seq` used, or 0. */
  seq(sessionId: string, agentId: string): number {
    const dir = this.path(sessionId, agentId, 'seqs');
    return Math.max(current(dir)?.seq ?? 0, this.legacyFloor(sessionId, agentId));
  }

  /**
   * The last `seq` the files of earlier layouts may have used, 0 when there are none: in the boot
   * they were written in, their last `seq`; after a reboot, their reservation (a gap once rather
   * than a reuse). They are no longer written, so this is read once per process.
   */
  private legacyFloor(sessionId: string, agentId: string): number {
    const id = `${sessionId}\0${agentId}`;
    let floor = this.legacyFloors.get(id);
    if (floor === undefined) {
      const named = (kind: string) =>
        join(this.dir, [safe(sessionId), safe(agentId), kind].join('.'));
      floor = 0;
      for (const record of [legacySeq(named('seq')), current(named('seqs'))]) {
        if (!record) continue;
        const rebooted = record.reserved > 0 && !sameBoot(record.boot, bootMark());
        floor = Math.max(floor, record.seq, rebooted ? record.reserved : 0);
      }
      this.legacyFloors.set(id, floor);
    }
    return floor;
  }

  /**
   * Takes the next `seq`: two processes of one agent never seal with one `seq`. `floor` is the
   * last `seq` recorded elsewhere (the store's record).
   *
   * The `seq` is the name of the one file in the (session, agent)'s directory, and taking one
   * is renaming that file from the last `seq` to the next: atomic, so of two processes renaming
   * the same name one wins and the other hears ENOENT. That one rename replaced a lock (a link
   * and an unlink) and a read and a write of a record: 37 → 19 µs a send.
   *
   * The file's content is the reservation: the highest `seq` that may be handed out, and the
   * boot it was written in, synced before any `seq` past the previous one is used. A sync per
   * send cost more than the send, so `seq`s are reserved in blocks of 64. A power cut may undo
   * renames that were not synced; after a reboot numbering resumes past the reservation, so a
   * `seq` is never reused: peers see a gap once, never a replay. Everything but the plain
   * rename (the first take of a process, a new block, a lost race) runs under the (session,
   * agent) lock.
   */
  takeSeq(sessionId: string, agentId: string, floor: number): number {
    const dir = this.path(sessionId, agentId, 'seqs');
    const known = this.counters.get(dir);
    // Unlocked only where a rename of a name two processes race for succeeds once (POSIX). On
    // Windows libuv renames through a handle it opened first, so two renames of one name could
    // both succeed: there every take is made under the lock.
    if (known && known.seq < known.reserved && !RENAME_TAKES_LOCK) {
      const next = known.seq + 1;
      try {
        renameSync(join(dir, String(known.seq)), join(dir, String(next)));
        known.seq = next;
        return next;
      } catch (error) {
        // Another process took a `seq` since (or holds the file a moment, on Windows): the
        // locked path finds where it stands.
        if (!movedMeanwhile(error)) throw stateError(this.dir, error);
      }
    }
    return this.locked(sessionId, agentId, () => {
      try {
        return this.takeSeqLocked(
          dir,
          Math.max(floor, known?.seq ?? 0, this.legacyFloor(sessionId, agentId)),
        );
      } catch (error) {
        throw stateError(this.dir, error);
      }
    });
  }

  /**
   * The first `seq` of a (session, agent): the directory is made whole beside its place (file,
   * reservation, syncs) and renamed into it, so a directory that exists always holds a file,
   * even to a listing that a concurrent rename hides it from.
   */
  private number(dir: string, seq: number, reservation: { reserved: number; boot: string }): void {
    const temporary = `${dir}.${process.pid}.tmp`;
    rmSync(temporary, { recursive: true, force: true });
    mkdirSync(temporary, { mode: 0o700 });
    writeReservation(join(temporary, String(seq)), reservation, 'wx');
    syncDirectory(temporary);
    renameSync(temporary, dir);
    syncDirectory(this.dir);
    this.counters.set(dir, { seq, reserved: reservation.reserved });
  }

  /** `takeSeq` under the lock: only renames by processes still inside their block race it. */
  private takeSeqLocked(dir: string, floor: number): number {
    let empty = 0;
    for (let attempt = 0; attempt < MAX_SEQ_ATTEMPTS; attempt++) {
      const found = current(dir);
      if (found === undefined) {
        // Listed while a process inside its block renamed the file: look again. A directory
        // that stays empty lost its file (removed by hand): numbering starts again from the
        // floor, as it did when the record of earlier versions was missing.
        if (++empty < EMPTY_LOOKS) {
          Atomics.wait(SLEEPER, 0, 0, 1);
          continue;
        }
        try {
          rmdirSync(dir);
        } catch (error) {
          // The file is back (ENOTEMPTY), or someone removed the directory: look again.
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw error;
        }
        continue;
      }
      empty = 0;
      const boot = bootMark();
      const reserved = found?.reserved ?? 0;
      const rebooted = reserved > 0 && !sameBoot(found?.boot ?? '', boot);
      const last = Math.max(found?.seq ?? 0, floor, rebooted ? reserved : 0);
      const next = last + 1;
      const renew = rebooted || next > reserved;
      const reservation = renew ? { reserved: next + SEQ_BLOCK, boot } : { reserved, boot };
      if (found === null) {
        this.number(dir, next, reservation);
        return next;
      }
      const from = join(dir, String(found.seq));
      try {
        if (renew) writeReservation(from, reservation, 'r+');
        renameSync(from, join(dir, String(next)));
      } catch (error) {
        // A process still inside its block renamed the file meanwhile: look again.
        if (!movedMeanwhile(error)) throw error;
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') Atomics.wait(SLEEPER, 0, 0, 1);
        continue;
      }
      this.counters.set(dir, { seq: next, reserved: reservation.reserved });
      return next;
    }
    throw clientError(
      'store_busy',
      `The numbering of encrypted messages in ${dir} kept changing under this process; try again.`,
    );
  }

  /** The guard an earlier layout left under the session id's own name, if any. */
  private legacyGuard(sessionId: string): StoredGuard | undefined {
    const path = join(this.dir, `${safe(sessionId)}.guard`);
    return this.withFile(path, false, (fd) => this.readGuard(path, fd).guard);
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
      const { guard, size } = this.readGuard(path, fd);
      const { next, result } = fn(size === 0 ? this.legacyGuard(sessionId) : guard);
      if (next) {
        let text = JSON.stringify(next);
        let bytes = Buffer.from(text, 'utf8');
        // A shorter guard is padded with spaces (JSON allows them) rather than truncated: the
        // file keeps its size, so the write changes no metadata.
        if (bytes.length < size) {
          text += ' '.repeat(size - bytes.length);
          bytes = Buffer.from(text, 'utf8');
        }
        writeSync(fd, bytes, 0, bytes.length, 0);
        // Written from checked data: no need to check it again when read back.
        this.parsed.set(path, { text, guard: next });
      }
      return result;
    }) as T;
  }

  /**
   * The guard and the file's size, read into one buffer kept for it (grown when a guard
   * outgrows it): no `fstat` per read. Parsed once per text: a poll usually finds it unchanged.
   */
  private readGuard(path: string, fd: number): { guard: StoredGuard | undefined; size: number } {
    let size = readSync(fd, this.buffer, 0, this.buffer.length, 0);
    while (size === this.buffer.length && size < MAX_GUARD_BYTES + 1) {
      this.buffer = Buffer.alloc(Math.min(this.buffer.length * 4, MAX_GUARD_BYTES + 1));
      size = readSync(fd, this.buffer, 0, this.buffer.length, 0);
    }
    if (size === 0 || size > MAX_GUARD_BYTES) return { guard: undefined, size };
    const text = this.buffer.toString('utf8', 0, size);
    const known = this.parsed.get(path);
    if (known?.text === text) return { guard: known.guard, size };
    let guard: StoredGuard | undefined;
    try {
      const result = GuardSchema.safeParse(JSON.parse(text));
      guard = result.success ? result.data : undefined;
    } catch {
      guard = undefined;
    }
    if (guard) this.parsed.set(path, { text, guard });
    return { guard, size };
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
    return this.named(`${sessionId}\0guard`, () => `${nameOf(sessionId)}.guard`);
  }

  private path(sessionId: string, agentId: string, kind: 'seqs' | 'lock'): string {
    return this.named(`${sessionId}\0${agentId}\0${kind}`, () =>
      [nameOf(sessionId), safe(agentId), kind].join('.'),
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

/** Where `seq`s are always taken under the lock (see takeSeq). */
const RENAME_TAKES_LOCK = process.platform === 'win32';

/** For a short wait between looks at a numbering file that Windows reports busy. */
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/**
 * A rename that failed because the file moved or was busy for a moment: ENOENT anywhere, and on
 * Windows the sharing errors a scanner or another process's open can cause.
 */
function movedMeanwhile(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return true;
  return (
    process.platform === 'win32' && (code === 'EPERM' || code === 'EBUSY' || code === 'EACCES')
  );
}

/** Where a (session, agent)'s numbering stands: the last `seq` used and its reservation. */
interface SeqRecord {
  /** The last `seq` used. */
  seq: number;
  /** The highest `seq` the last synced reservation allows. */
  reserved: number;
  /** The boot that reservation was written in. */
  boot: string;
}

/** A session's part of its file names: a hash, so no path can show the session id. */
function nameOf(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex').slice(0, 32);
}

/** Session ids are hex and agent ids letters, digits, - and _; anything else stays out. */
function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9_-]/g, '_');
}

/**
 * The one file in a numbering directory: its name is the last `seq`, its content the
 * reservation. Several (left by hand, say) count as the highest. `null`: no directory, never
 * numbered; undefined: a directory whose file a rename hid from this listing (look again).
 */
function current(dir: string): SeqRecord | null | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  let seq = -1;
  for (const name of names) {
    if (/^(0|[1-9]\d{0,15})$/.test(name) && Number(name) > seq) seq = Number(name);
  }
  if (seq < 0 || !Number.isSafeInteger(seq)) return undefined;
  const { reserved, boot } = readReservation(join(dir, String(seq)));
  return { seq, reserved, boot };
}

function readReservation(path: string): { reserved: number; boot: string } {
  let length: number;
  try {
    const fd = openSync(path, 'r');
    try {
      length = readSync(fd, SEQ_BUFFER, 0, SEQ_BYTES, 0);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    // Renamed by another process between the listing and this read: its next look finds it.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { reserved: 0, boot: '' };
    throw error;
  }
  const parsed = parseRecord(SEQ_BUFFER.toString('utf8', 0, length));
  return parsed ? { reserved: parsed.r, boot: parsed.b } : { reserved: 0, boot: '' };
}

/** Writes a reservation over the file's 128 bytes and syncs it: before any `seq` it allows. */
function writeReservation(
  path: string,
  reservation: { reserved: number; boot: string },
  flags: 'wx' | 'r+',
): void {
  const fd = openSync(path, flags, 0o600);
  try {
    const bytes = SEQ_BUFFER.fill(0x20);
    bytes.write(JSON.stringify({ r: reservation.reserved, b: reservation.boot }), 0, 'utf8');
    writeSync(fd, bytes, 0, SEQ_BYTES, 0);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A new name in a directory survives a power cut once the directory is synced (POSIX only). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open a directory; its file system orders the metadata itself.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The record of the single-file layout before numbering directories: a floor, read once. */
function legacySeq(path: string): SeqRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = parseRecord(text);
  return parsed && Number.isSafeInteger(parsed.s)
    ? { seq: parsed.s as number, reserved: parsed.r, boot: parsed.b }
    : undefined;
}

function parseRecord(text: string): { s?: unknown; r: number; b: string } | undefined {
  // Never written, or torn: no reservation (the floor and the name still apply).
  const value = parseJsonText(text);
  if (!value || typeof value !== 'object') return undefined;
  const { s, r, b } = value as Record<string, unknown>;
  return Number.isSafeInteger(r) && typeof b === 'string' ? { s, r: r as number, b } : undefined;
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
