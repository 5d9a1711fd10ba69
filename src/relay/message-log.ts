import type { StoredMessage } from './storage.js';

/** Below this many dropped slots, compacting the array costs more than it saves. */
const COMPACT_MIN_HEAD = 1024;

/**
 * One session's messages in cursor order. Reads binary-search their start, so a poll costs
 * O(log held + returned) however many messages are held; dropping the oldest moves a head
 * index and compacts now and then, so it is amortised O(1).
 */
export class MessageLog {
  private items: StoredMessage[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  /** Appends (cursors must increase) and drops the oldest beyond `cap`. */
  push(message: StoredMessage, cap: number): void {
    this.items.push(message);
    while (this.size > cap) this.dropHead();
  }

  /** Drops messages from the oldest end while they are expired at `now`. */
  dropExpired(now: number): void {
    while (this.size > 0 && (this.items[this.head] as StoredMessage).expiresAt <= now) {
      this.dropHead();
    }
  }

  /** Up to `limit` messages with cursor > after (from the oldest when undefined). */
  after(after: number | undefined, limit: number, now: number): StoredMessage[] {
    this.dropExpired(now);
    const start = after === undefined ? this.head : this.firstIndexAfter(after);
    const result: StoredMessage[] = [];
    for (let i = start; i < this.items.length && result.length < limit; i++) {
      const message = this.items[i] as StoredMessage;
      // A ttl shortened by renew can leave an expired message behind a live one.
      if (message.expiresAt > now) result.push(message);
    }
    return result;
  }

  private firstIndexAfter(cursor: number): number {
    let low = this.head;
    let high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.items[mid] as StoredMessage).cursor > cursor) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  private dropHead(): void {
    this.head++;
    if (this.head >= COMPACT_MIN_HEAD && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
