/**
 * Gives memory back once the server goes quiet. A host keeps a server running for hours,
 * mostly idle; a burst of tool calls grows V8's young generation (its semi-spaces grow with the
 * allocation rate and stay grown), so an idle server held ~10-20 MB more than it needs. A
 * while after the last message from the host, one full collection that also shrinks the young
 * generation (V8's "last resort" flavour, what it runs under memory pressure) returns it. It
 * runs only after activity, at most once per quiet spell, off every call's path.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How long after the last message from the host the memory is given back. */
export const IDLE_MS = 750;

type Collect = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

let collect: Collect | null | undefined;

/**
 * V8's `gc` function, without starting node with --expose-gc (a host runs `node cli.js` as it
 * is): the flag set at run time applies to contexts made afterwards, so one new context hands
 * the function over, and the flag is turned off again. Null where that does not work.
 */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    collect = typeof gc === 'function' ? (gc as Collect) : null;
  } catch {
    collect = null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return collect;
}

/** The server's one: stdio.ts enables it; tool calls mark themselves busy (define.ts). */
class IdleMemory {
  private timer: NodeJS.Timeout | undefined;
  private enabled = false;
  private busy = 0;

  constructor(private readonly idleMs = IDLE_MS) {}

  /** Starts giving memory back (the stdio server; tests in process leave it off). */
  enable(): void {
    this.enabled = true;
  }

  /** Something happened: give memory back once nothing has for `idleMs`. */
  touch(): void {
    if (!this.enabled) return;
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Never while a call runs (a wait holds a long-poll): its end touches again.
      if (this.busy === 0)
        collector()?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    }, this.idleMs);
    this.timer.unref();
  }

  /** A call runs until the returned function is called. */
  start(): () => void {
    this.busy++;
    return () => {
      this.busy--;
      this.touch();
    };
  }

  stop(): void {
    this.enabled = false;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

export const idleMemory = new IdleMemory();
