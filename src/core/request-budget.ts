/**
 * How many requests this process may send each relay: a token bucket per relay origin, so a poll
 * or wait over many sessions stays within what the relay allows (the live relay: 100 requests a
 * minute per address) instead of spending it all at once, plus a pause after a 429 for as long as
 * the relay asked.
 */
import type { Clock } from './clock.js';

/** Requests a minute allowed to relays that are not on this machine, unless configured. */
const DEFAULT_REQUESTS_PER_MINUTE = 100;

export interface BudgetOptions {
  clock: Clock;
  /** Requests a minute per relay; 0 for no limit. Unset: the default for remote relays, none on loopback. */
  perMinute?: number;
}

interface Bucket {
  tokens: number;
  at: number;
  pausedUntil: number;
}

export class RequestBudget {
  private readonly buckets = new Map<string, Bucket>();
  private readonly byServer = new Map<string, Bucket>();
  private readonly limits = new Map<string, number>();
  private readonly clock: Clock;
  private readonly perMinute: number | undefined;

  constructor(options: BudgetOptions) {
    this.clock = options.clock;
    this.perMinute = options.perMinute;
  }

  /** Takes one request's worth for `server`: 0 when it may go now, else how long to wait (ms). */
  take(server: string): number {
    const limit = this.limitFor(server);
    const bucket = this.bucket(server, limit);
    const now = this.clock.now();
    if (bucket.pausedUntil > now) return bucket.pausedUntil - now;
    if (limit === 0) return 0;
    bucket.tokens = Math.min(limit, bucket.tokens + ((now - bucket.at) * limit) / 60_000);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) * 60_000) / limit);
  }

  /** A relay answered 429: send it nothing more for `ms`. */
  pause(server: string, ms: number): void {
    const bucket = this.bucket(server, this.limitFor(server));
    bucket.pausedUntil = Math.max(bucket.pausedUntil, this.clock.now() + ms);
  }

  /** One bucket per relay origin, found by the server URL as sessions store it. */
  private bucket(server: string, limit: number): Bucket {
    let bucket = this.byServer.get(server);
    if (!bucket) {
      const origin = originOf(server);
      bucket = this.buckets.get(origin) ?? { tokens: limit, at: this.clock.now(), pausedUntil: 0 };
      this.buckets.set(origin, bucket);
      this.byServer.set(server, bucket);
    }
    return bucket;
  }

  private limitFor(server: string): number {
    if (this.perMinute !== undefined) return this.perMinute;
    let limit = this.limits.get(server);
    if (limit === undefined) {
      // A relay on this machine is the user's own: no published limit to keep to.
      limit = isLoopback(server) ? 0 : DEFAULT_REQUESTS_PER_MINUTE;
      this.limits.set(server, limit);
    }
    return limit;
  }
}

function originOf(server: string): string {
  try {
    return new URL(server).origin;
  } catch {
    return server;
  }
}

function isLoopback(server: string): boolean {
  try {
    const host = new URL(server).hostname;
    return host === 'localhost' || host === '[::1]' || /^127\./.test(host);
  } catch {
    return false;
  }
}
