import type { DatabaseSync } from 'node:sqlite';

interface Batch {
  /** Settles once the batch's COMMIT has run (or it failed): every write of the batch waits on it. */
  readonly committed: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
  /** Run in order once the COMMIT succeeded, before any write of the batch resolves. */
  readonly afterCommit: (() => void)[];
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const committed = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Each write awaits it and gets the rejection; this one only keeps it from being "unhandled".
  committed.catch(() => undefined);
  return { committed, resolve, reject, afterCommit: [] };
}

/**
 * Group commit for one SQLite connection: the writes issued in one turn of the event loop run
 * in one transaction (BEGIN on the first, COMMIT once in a setImmediate), and each write's
 * promise resolves only after that COMMIT, so an answer sent after it still means the rows are
 * in the WAL. A COMMIT costs a WAL write() per dirtied page; under load it is shared by every
 * request that arrived in the same turn.
 *
 * A failure (a statement of any write, or the COMMIT) rolls the whole batch back and rejects
 * every write in it; `on.failed` runs first, so state derived from the writes (a cache) is
 * dropped before any of them answers.
 */
export class GroupCommit {
  private open: Batch | undefined;

  constructor(
    private readonly db: DatabaseSync,
    private readonly on: {
      /** After each COMMIT and its hooks: nothing is pending then. */
      committed: () => void;
      /** Before a failed batch's writes reject. */
      failed: (error: unknown) => void;
    },
  ) {}

  /** True while a batch's transaction is open (its writes not yet committed). */
  get pending(): boolean {
    return this.open !== undefined;
  }

  /**
   * Runs `body` (synchronous statements) inside the open batch, opening one when there is none,
   * and resolves with its result once the batch has committed.
   */
  write<T>(body: () => T): Promise<T> {
    const batch = this.begin();
    let result: T;
    try {
      result = body();
    } catch (error) {
      this.fail(batch, error);
      return Promise.reject(error);
    }
    return batch.committed.then(() => result);
  }

  /** Runs `hook` after the open batch commits (call only inside `write`'s body). */
  afterCommit(hook: () => void): void {
    this.open?.afterCommit.push(hook);
  }

  /** Commits the open batch now (before a transaction of its own, or closing). */
  flush(): void {
    if (this.open) this.commit(this.open);
  }

  private begin(): Batch {
    if (this.open) return this.open;
    this.db.exec('BEGIN IMMEDIATE');
    const batch = newBatch();
    this.open = batch;
    setImmediate(() => this.commit(batch));
    return batch;
  }

  private commit(batch: Batch): void {
    // Already committed by flush(), or failed.
    if (this.open !== batch) return;
    try {
      this.db.exec('COMMIT');
    } catch (error) {
      this.fail(batch, error);
      return;
    }
    this.open = undefined;
    try {
      for (const hook of batch.afterCommit) hook();
      this.on.committed();
    } finally {
      // The writes continue in later microtasks, so after every hook either way.
      batch.resolve();
    }
  }

  private fail(batch: Batch, error: unknown): void {
    this.open = undefined;
    // A failed COMMIT may have ended the transaction itself (SQLite rolls back on some I/O errors).
    if (this.db.isOpen && this.db.isTransaction) {
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // The batch's own error is the one to answer; the next BEGIN reports a connection that
        // is still unusable.
      }
    }
    this.on.failed(error);
    batch.reject(error);
  }
}
