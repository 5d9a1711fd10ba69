import type { Clock } from './clock.js';

const WINDOW_MS = 60_000;

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Fixed 60-second windows per client IP, opened by the client's first request. Per process:
 * several relay processes behind one address each count on their own.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
  ) {}

  check(ip: string): RateDecision {
    if (this.perMinute <= 0) return { allowed: true };
    const now = this.clock.now();
    let window = this.windows.get(ip);
    if (!window || now - window.start >= WINDOW_MS) {
      window = { start: now, count: 0 };
      this.windows.set(ip, window);
    }
    if (window.count >= this.perMinute) {
      const remainingMs = window.start + WINDOW_MS - now;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(remainingMs / 1000)) };
    }
    window.count++;
    return { allowed: true };
  }

  /** Forgets closed windows, so the map holds only recent clients. */
  sweep(): void {
    const now = this.clock.now();
    for (const [ip, window] of this.windows) {
      if (now - window.start >= WINDOW_MS) this.windows.delete(ip);
    }
  }
}
