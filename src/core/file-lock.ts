/**
 * A cross-process lock as a file that holds the owner's pid, so a lock left by a crashed (or
 * SIGKILLed) process is broken at once instead of after a timeout. Taking it is one hard link
 * of this process's pid file to the lock's name (atomic, EEXIST when held): 10 µs here against
 * 33 µs for creating, writing and closing a file with O_EXCL, which stays as the fallback where
 * hard links are not supported. Held for a file read and write only, so waiting is a short
 * synchronous sleep: a live owner is waited for at most LOCK_TIMEOUT_MS, then the caller hears
 * `store_busy`. A lock file that names no pid (garbage) or cannot be read was not written by a
 * working process of ours, and is broken at once.
 */
import {
  closeSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { clientError } from './errors.js';

/** The longest a caller waits for a lock whose owner is alive. */
export const LOCK_TIMEOUT_MS = 2_000;
/**
 * An empty lock file younger than this may be one being written (the O_EXCL fallback opens
 * before it writes its pid); older, it was left by a crash.
 */
const EMPTY_GRACE_MS = 1_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const PID_LINE = Buffer.from(`${process.pid}\n`);
/** Per directory: this process's pid file, or null where hard links failed. */
const owners = new Map<string, string | null>();

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
      take(lockFile);
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
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // ENOENT: another process broke it first.
        if (code !== 'ENOENT') {
          throw clientError(
            'store_error',
            `Cannot lock ${what}: the stale lock file ${lockFile} cannot be removed (${code ?? 'error'}); delete it by hand.`,
          );
        }
      }
      continue;
    }
    if (Date.now() > deadline) {
      const owner = ownerOf(lockFile);
      throw clientError(
        'store_busy',
        `${what.charAt(0).toUpperCase()}${what.slice(1)} stayed locked for ${LOCK_TIMEOUT_MS / 1000} s by ${owner === undefined ? 'another process' : `process ${owner}`} (lock file ${lockFile}); if that process is hung, stop it, or delete the lock file.`,
      );
    }
    Atomics.wait(sleeper, 0, 0, 1 + Math.floor(Math.random() * 4));
  }
}

function isStale(lockFile: string): boolean {
  let text: string;
  try {
    text = readFileSync(lockFile, 'utf8');
  } catch (error) {
    // Gone between our attempts: just try again. Unreadable: no process of ours wrote it.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
  if (text === '') {
    try {
      return Date.now() - statSync(lockFile).mtimeMs > EMPTY_GRACE_MS;
    } catch {
      return false;
    }
  }
  const owner = pidIn(text);
  // Garbage names no process to wait for.
  if (owner === undefined) return true;
  return owner !== process.pid && !isAlive(owner);
}

/** The pid a lock file holds: digits and a newline, as `take` writes them. */
function pidIn(text: string): number | undefined {
  if (!/^\d{1,10}\n?$/.test(text)) return undefined;
  const pid = Number.parseInt(text, 10);
  return pid > 0 ? pid : undefined;
}

function ownerOf(lockFile: string): number | undefined {
  try {
    return pidIn(readFileSync(lockFile, 'utf8'));
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, as another user's process.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function take(lockFile: string): void {
  const owner = ownerFile(dirname(lockFile));
  if (owner !== null) {
    try {
      linkSync(owner, lockFile);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw error;
      // The pid file went away (someone cleaned the directory): make it again next time.
      if (code === 'ENOENT') owners.delete(dirname(lockFile));
      else owners.set(dirname(lockFile), null);
    }
  }
  const fd = openSync(lockFile, 'wx', 0o600);
  writeSync(fd, PID_LINE);
  closeSync(fd);
}

function ownerFile(dir: string): string | null {
  let owner = owners.get(dir);
  if (owner !== undefined) return owner;
  owner = join(dir, `.owner-${process.pid}`);
  removeDeadOwners(dir);
  try {
    writeFileSync(owner, PID_LINE, { mode: 0o600 });
    removeOwnersOnExit();
  } catch {
    owner = null;
  }
  owners.set(dir, owner);
  return owner;
}

let removingOnExit = false;

/**
 * One exit listener for every pid file this process made: one per directory would pass Node's
 * listener limit (and warn on stderr) in a store with many sessions.
 */
function removeOwnersOnExit(): void {
  if (removingOnExit) return;
  removingOnExit = true;
  process.once('exit', () => {
    for (const owner of owners.values()) {
      if (owner === null) continue;
      try {
        unlinkSync(owner);
      } catch {
        // already gone
      }
    }
  });
}

/** Pid files of processes that died without cleaning up (SIGKILL): one look per directory. */
function removeDeadOwners(dir: string): void {
  try {
    for (const name of readdirSync(dir)) {
      const pid = /^\.owner-(\d+)$/.exec(name)?.[1];
      if (pid !== undefined && !isAlive(Number(pid))) unlinkSync(join(dir, name));
    }
  } catch {
    // a directory we cannot list keeps its leftovers
  }
}
