/**
 * A cross-process lock as a file created with O_EXCL, holding the owner's pid so a lock left by
 * a crashed (or SIGKILLed) process is broken at once instead of after a timeout. Held for a file
 * read and write only, so waiting is a short synchronous sleep.
 */
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { clientError } from './errors.js';

const LOCK_TIMEOUT_MS = 10_000;
/** A lock older than this whose owner cannot be checked is taken as left by a crash. */
const LOCK_STALE_MS = 30_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const PID_LINE = Buffer.from(`${process.pid}\n`);

/** Runs `fn` while holding `lockFile`; `what` names the locked thing in error messages. */
export function withFileLock<T>(lockFile: string, what: string, fn: () => T): T {
  lock(lockFile, what);
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lockFile);
    } catch {
      // nothing to release
    }
  }
}

function lock(lockFile: string, what: string): void {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, PID_LINE);
      closeSync(fd);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        throw clientError('store_error', `Cannot lock ${what} (${code ?? 'error'}).`);
      }
    }
    if (isStale(lockFile)) {
      try {
        unlinkSync(lockFile);
      } catch {
        // another process broke it first
      }
      continue;
    }
    if (Date.now() > deadline) {
      throw clientError(
        'store_error',
        `${what} stayed locked for ${LOCK_TIMEOUT_MS} ms; if no other nexus process is running, delete ${lockFile}.`,
      );
    }
    Atomics.wait(sleeper, 0, 0, 1 + Math.floor(Math.random() * 4));
  }
}

function isStale(lockFile: string): boolean {
  try {
    const owner = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid) {
      try {
        process.kill(owner, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
      }
    }
    return Date.now() - statSync(lockFile).mtimeMs > LOCK_STALE_MS;
  } catch {
    // Gone or unreadable between our attempts: just try again.
    return false;
  }
}
