/**
 * Read positions on disk: one small fixed-size record per session (`cursors/<hash of id>`), rewritten in
 * place under that session's own lock. Moving a cursor then costs a lock and one 512-byte write,
 * whatever the number of sessions in the store, instead of a rewrite of the whole store file.
 * The rules for moving it live in inbox.ts; this module only keeps the bytes.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CURSOR_PATTERN, parseJsonText } from '../protocol/index.js';
import { clientError } from './errors.js';
import { withFileLock } from './file-lock.js';
import { OpenFiles } from './open-files.js';

const RECORD_BYTES = 512;
/** Records kept open at once; the least recently opened is closed beyond this. */
const MAX_OPEN = 256;
/** Given-back ranges kept per session; more are merged (which may show a few messages twice). */
const MAX_RETURNED = 8;

/** Where a session's reading stands. */
export interface ReadPosition {
  /** Every message up to here was handed over. */
  cursor: string;
  /** Ranges (after, through] handed over and then given back by a late cancel: due again. */
  returned: [after: string, through: string][];
  lastUsedAt?: string;
}

export class CursorFiles {
  private readonly dir: string;
  private made = false;
  private readonly buffer = Buffer.alloc(RECORD_BYTES);
  /** Open records, kept open: an open and a close cost more than the read or write itself. */
  private readonly files = new OpenFiles(MAX_OPEN);
  private readonly paths = new Map<string, string>();

  constructor(storeDir: string) {
    this.dir = join(storeDir, 'cursors');
  }

  /** The record as last written, or undefined when there is none (or it cannot be read). */
  read(sessionId: string): ReadPosition | undefined {
    return this.readAt(this.fd(sessionId, false));
  }

  private readAt(fd: number | undefined): ReadPosition | undefined {
    if (fd === undefined) return undefined;
    try {
      const length = readSync(fd, this.buffer, 0, RECORD_BYTES, 0);
      return decode(this.buffer.toString('utf8', 0, length));
    } catch {
      return undefined;
    }
  }

  /**
   * Reads the record and writes back what `fn` returns, as one step under the session's lock:
   * the compare-and-advance every cursor move goes through. `fn` returning `next: undefined`
   * writes nothing.
   */
  update<T>(
    sessionId: string,
    fn: (current: ReadPosition | undefined) => { next?: ReadPosition; result: T },
  ): T {
    this.ensureDir();
    const path = this.path(sessionId);
    return withFileLock(`${path}.lock`, 'the read position of a session', () => {
      // One look at the record per step: the fd checked here is the one written below.
      const fd = this.fd(sessionId, false);
      const { next, result } = fn(this.readAt(fd));
      if (next) this.write(sessionId, fd, next);
      return result;
    });
  }

  remove(sessionId: string): void {
    this.forget(sessionId);
    try {
      unlinkSync(this.path(sessionId));
    } catch {
      // never written
    }
  }

  private write(sessionId: string, fd: number | undefined, position: ReadPosition): void {
    const bytes = this.buffer.fill(0x20);
    bytes.write(encode(position), 0, 'utf8');
    try {
      // In place: a crash mid-write never leaves the record truncated.
      writeSync(fd ?? (this.fd(sessionId, true) as number), bytes, 0, RECORD_BYTES, 0);
    } catch (error) {
      throw clientError(
        'store_error',
        `Cannot write a read position in ${this.dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      );
    }
  }

  /**
   * The open record of a session, opened (or created) when needed. A record another process
   * removed (leave, rejoin) has no links left: it is dropped and opened afresh.
   */
  private fd(sessionId: string, create: boolean): number | undefined {
    return this.files.get(this.path(sessionId), create);
  }

  private forget(sessionId: string): void {
    this.files.close(this.path(sessionId));
  }

  private ensureDir(): void {
    if (this.made) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.made = true;
  }

  /**
   * Named by a hash of the session id: a path can reach an error message (a lock left behind),
   * and a full session id must never.
   */
  private path(sessionId: string): string {
    let path = this.paths.get(sessionId);
    if (path === undefined) {
      const name = createHash('sha256').update(sessionId).digest('hex').slice(0, 32);
      path = join(this.dir, name);
      this.paths.set(sessionId, path);
    }
    return path;
  }
}

function encode(position: ReadPosition): string {
  let returned = position.returned;
  while (returned.length > MAX_RETURNED) {
    const [first, second, ...rest] = returned as [[string, string], [string, string]];
    returned = [[first[0], second[1]], ...rest];
  }
  return JSON.stringify({
    c: position.cursor,
    ...(returned.length > 0 && { r: returned }),
    ...(position.lastUsedAt !== undefined && { u: position.lastUsedAt }),
  });
}

function decode(text: string): ReadPosition | undefined {
  const raw = parseJsonText(text);
  if (!raw || typeof raw !== 'object') return undefined;
  const { c, r, u } = raw as { c?: unknown; r?: unknown; u?: unknown };
  if (typeof c !== 'string' || !CURSOR_PATTERN.test(c)) return undefined;
  const returned = Array.isArray(r)
    ? r.filter(
        (range): range is [string, string] =>
          Array.isArray(range) &&
          range.length === 2 &&
          range.every((cursor) => typeof cursor === 'string' && CURSOR_PATTERN.test(cursor)),
      )
    : [];
  return { cursor: c, returned, ...(typeof u === 'string' && { lastUsedAt: u }) };
}
