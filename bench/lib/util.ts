/** Paths, bounded loops and small timing helpers shared by the benchmarks. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST = join(ROOT, 'dist');
export const CLI = join(DIST, 'cli.js');

/** `node --cpu-prof` arguments: bench/<name>.cpuprofile is written when the process exits. */
export function profileArgs(name: string | undefined): string[] {
  return name
    ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, 'bench')}`, `--cpu-prof-name=${name}.cpuprofile`]
    : [];
}

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first');
}

/** Imports a module from dist/, typed as its source module. */
export async function importDist<T>(relative: string): Promise<T> {
  return (await import(join(DIST, relative))) as T;
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

export interface Bound {
  /** Most iterations. */
  count: number;
  /** Stop starting new iterations after this long, whatever the count. */
  maxMs: number;
}

/** Runs `fn` up to `count` times, sequentially, stopping early at the time bound. */
export async function bounded(
  { count, maxMs }: Bound,
  fn: (index: number) => Promise<void>,
): Promise<number> {
  const deadline = performance.now() + maxMs;
  let done = 0;
  while (done < count && performance.now() < deadline) {
    await fn(done);
    done++;
  }
  return done;
}

/** Polls `check` every `everyMs` until it is true; throws after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 1,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Rejects when `promise` takes longer than `ms`. */
export async function withTimeout<T>(what: string, promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Free text for a message of about `chars` characters, with no secrets to redact. */
export function filler(chars: number, seed = 0): string {
  const words = ['relay', 'agent', 'message', 'cursor', 'session', 'poll', 'wait', 'reply'];
  const out: string[] = [];
  let length = 0;
  for (let i = seed; length < chars; i++) {
    const word = words[i % words.length] as string;
    out.push(word);
    length += word.length + 1;
  }
  return out.join(' ').slice(0, chars);
}
