import { type HeldSession, holdSession } from './held-session.js';
import type { SessionRecord, StoredMessage } from './storage.js';

/** At most this many sessions are held; past it the least recently used go (second chance). */
export const MAX_CACHED_SESSIONS = 1_000;
/** A session's most recent messages held, at most this many ... */
export const CACHED_MESSAGES = 64;
/** ... and about this many bytes of text and json (one bigger message is still held). */
const CACHED_MESSAGE_CHARS = 32 * 1024;

/**
 * One session as stored, held in memory by the SQLite store (which owns its file: nothing else
 * writes it), with its most recent messages.
 */
export interface CachedSession extends HeldSession {
  /** Consecutive cursors, oldest first: every message above `floor` up to lastCursor. */
  messages: StoredMessage[];
  /** Messages at or below this cursor are not held here: reads reaching them go to SQL. */
  floor: number;
  /**
   * The highest cursor whose COMMIT succeeded. Reads stop there, so no answer shows a message a
   * failed commit could still take back (and its cursor be handed out again).
   */
  committed: number;
  /** Whether the messages below the floor at load time were read (see fillOlder). */
  filled: boolean;
  chars: number;
  /** Read or written since the eviction sweep last passed it. */
  used: boolean;
}

function sizeOf(message: StoredMessage): number {
  return message.text.length + (message.jsonText?.length ?? 0);
}

/**
 * A session read from SQLite (or just created) holds none of its messages yet: they are read on
 * the first poll that needs them (fillOlder), not by every status read or sweep that loads it.
 */
export function cachedSession(record: SessionRecord): CachedSession {
  return {
    ...holdSession(record),
    messages: [],
    floor: record.lastCursor,
    committed: record.lastCursor,
    filled: false,
    chars: 0,
    used: true,
  };
}

/**
 * Puts the messages just below the floor (read from SQLite, oldest first: the window's worth
 * up to the floor, all committed) in front of the held ones, once per session held.
 */
export function fillOlder(entry: CachedSession, older: StoredMessage[], window: number): void {
  entry.filled = true;
  entry.messages = [...older, ...entry.messages];
  entry.chars += older.reduce((sum, message) => sum + sizeOf(message), 0);
  entry.floor -= window;
  trimWindow(entry, window);
}

/** Appends the newest message (cursor lastCursor) and lets the oldest go past the window. */
export function holdMessage(entry: CachedSession, message: StoredMessage, window: number): void {
  entry.messages.push(message);
  entry.chars += sizeOf(message);
  trimWindow(entry, window);
}

function trimWindow(entry: CachedSession, window: number): void {
  while (
    entry.messages.length > window ||
    (entry.chars > CACHED_MESSAGE_CHARS && entry.messages.length > 1)
  ) {
    const dropped = entry.messages.shift() as StoredMessage;
    entry.chars -= sizeOf(dropped);
    entry.floor = Math.max(entry.floor, dropped.cursor);
  }
}

/**
 * Up to `limit` held messages with cursor > after, committed and unexpired at `now`; undefined
 * when messages above `after` may be older than what is held (the caller reads SQL then).
 */
export function heldMessagesAfter(
  entry: CachedSession,
  after: number,
  limit: number,
  now: number,
): StoredMessage[] | undefined {
  if (after < entry.floor) return undefined;
  const { messages } = entry;
  let start = messages.length;
  while (start > 0 && (messages[start - 1] as StoredMessage).cursor > after) start--;
  const result: StoredMessage[] = [];
  for (let i = start; i < messages.length && result.length < limit; i++) {
    const message = messages[i] as StoredMessage;
    if (message.cursor > entry.committed) break;
    // A ttl shortened by renew can leave an expired message behind a live one.
    if (message.expiresAt > now) result.push(message);
  }
  return result;
}

/**
 * Sessions by id, at most MAX_CACHED_SESSIONS: adding past it evicts one not used since the
 * sweep last passed (a hit only sets a flag; the sweep re-queues used entries once).
 */
export class SessionCache {
  private readonly entries = new Map<string, CachedSession>();

  get(sessionId: string): CachedSession | undefined {
    const entry = this.entries.get(sessionId);
    if (entry) entry.used = true;
    return entry;
  }

  set(sessionId: string, entry: CachedSession): void {
    this.entries.set(sessionId, entry);
  }

  delete(sessionId: string): void {
    this.entries.delete(sessionId);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  /** Evicts down to the bound (only while no write is pending: see SqliteStorage). */
  evictOverflow(): void {
    while (this.entries.size > MAX_CACHED_SESSIONS) {
      const [sessionId, entry] = this.entries.entries().next().value as [string, CachedSession];
      this.entries.delete(sessionId);
      if (entry.used) {
        entry.used = false;
        this.entries.set(sessionId, entry);
      }
    }
  }
}
