import type { Clock } from './clock.js';
import type { RelayStorage } from './storage.js';

export const RATE_WINDOW_MS = 60_000;

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Fixed 60-second windows per client address, opened by the client's first request, counted by
 * the storage: in this process for memory and SQLite, in Redis for every process sharing it.
 */
export class RateLimiter {
  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
    private readonly storage: RelayStorage,
  ) {}

  async check(address: string): Promise<RateDecision> {
    if (this.perMinute <= 0) return { allowed: true };
    const now = this.clock.now();
    const { count, windowStart } = await this.storage.countRequest(address, now);
    if (count <= this.perMinute) return { allowed: true };
    const remainingMs = windowStart + RATE_WINDOW_MS - now;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)) };
  }
}

/** Request windows held in this process (memory and SQLite stores: one process owns the data). */
export class LocalRequestWindows {
  private readonly windows = new Map<string, { start: number; count: number }>();

  count(address: string, now: number): { count: number; windowStart: number } {
    let window = this.windows.get(address);
    if (!window || now - window.start >= RATE_WINDOW_MS) {
      window = { start: now, count: 0 };
      this.windows.set(address, window);
    }
    window.count++;
    return { count: window.count, windowStart: window.start };
  }

  /** Forgets closed windows, so the map holds only recent clients. */
  sweep(now: number): void {
    for (const [address, window] of this.windows) {
      if (now - window.start >= RATE_WINDOW_MS) this.windows.delete(address);
    }
  }
}
