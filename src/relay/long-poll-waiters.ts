export type WaitOutcome = 'message' | 'timeout' | 'aborted' | 'closed';

export interface Waiter {
  /** Resolves on the first message after the waiter's cursor, on timeout, abort or shutdown. */
  wait(waitMs: number, signal: AbortSignal): Promise<WaitOutcome>;
  /** Unregisters; idempotent. */
  cancel(): void;
}

interface Entry {
  sessionId: string;
  after: number | undefined;
  /** Set when notified before wait() was called (the message raced the first read). */
  early: WaitOutcome | undefined;
  settle: ((outcome: WaitOutcome) => void) | undefined;
}

/**
 * Long-poll waiters per session, woken by the storage's message notifications (no polling
 * loop). A waiter is registered before the poll's first read, so a message that lands between
 * that read and the wait still wakes it.
 */
export class LongPollWaiters {
  private readonly bySession = new Map<string, Set<Entry>>();
  private closed = false;
  private count = 0;

  /** How many polls are held open now. */
  get pending(): number {
    return this.count;
  }

  add(sessionId: string, after: number | undefined): Waiter {
    const entry: Entry = {
      sessionId,
      after,
      early: this.closed ? 'closed' : undefined,
      settle: undefined,
    };
    let set = this.bySession.get(sessionId);
    if (!set) {
      set = new Set();
      this.bySession.set(sessionId, set);
    }
    set.add(entry);
    this.count++;
    return {
      wait: (waitMs, signal) => this.wait(entry, waitMs, signal),
      cancel: () => this.remove(entry),
    };
  }

  notify(sessionId: string, cursor: number): void {
    const set = this.bySession.get(sessionId);
    if (!set) return;
    for (const entry of [...set]) {
      if (entry.after === undefined || cursor > entry.after) this.fire(entry, 'message');
    }
  }

  /** Shutdown: answers every held poll and every later one at once. */
  closeAll(): void {
    this.closed = true;
    for (const set of [...this.bySession.values()]) {
      for (const entry of [...set]) this.fire(entry, 'closed');
    }
  }

  private wait(entry: Entry, waitMs: number, signal: AbortSignal): Promise<WaitOutcome> {
    if (entry.early) return Promise.resolve(entry.early);
    if (signal.aborted) return Promise.resolve('aborted');
    return new Promise<WaitOutcome>((resolve) => {
      const timer = setTimeout(() => done('timeout'), waitMs);
      const onAbort = (): void => done('aborted');
      const done = (outcome: WaitOutcome): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        entry.settle = undefined;
        this.remove(entry);
        resolve(outcome);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      entry.settle = done;
    });
  }

  private fire(entry: Entry, outcome: WaitOutcome): void {
    if (entry.settle) entry.settle(outcome);
    else entry.early ??= outcome;
  }

  private remove(entry: Entry): void {
    const set = this.bySession.get(entry.sessionId);
    if (!set?.delete(entry)) return;
    this.count--;
    if (set.size === 0) this.bySession.delete(entry.sessionId);
  }
}
