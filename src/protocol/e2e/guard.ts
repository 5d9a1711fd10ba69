/**
 * Replay detection for a whole session, safe for re-reading. A client reads the same messages
 * again (a poll with `after`, the transcript resource, a batch given back after a cancel), and a
 * re-read must not turn into `replayed`. So the per-sender windows only judge messages past
 * `through`, the highest cursor judged so far; a message at or below it was judged when it was
 * first seen, and its verdict, when it was not plain "fresh", is kept in `notes` by cursor.
 * A replay is the relay serving an envelope again at a new cursor, which is always past
 * `through`.
 */
import { compareCursors, isCursor } from '../formats.js';
import { checkReplay, type ReplayState, type ReplayVerdict } from './replay.js';

/** Verdicts worth remembering are rare (attacks, gaps): keep the most recent ones. */
export const MAX_GUARD_NOTES = 1024;

export type GuardNote = { replayed: true } | { replayed: false; gapBefore: number };

export interface ReplayGuard {
  /** The highest cursor judged; "0" before any. */
  through: string;
  senders: ReplayState;
  /** [cursor, verdict] for judged messages that were replays or came after a gap. */
  notes: [string, GuardNote][];
}

export function newReplayGuard(): ReplayGuard {
  return { through: '0', senders: {}, notes: [] };
}

export interface Judged {
  /** The relay's cursor for the message. */
  cursor: string;
  /** The relay's agentId for the message. */
  sender: string;
  /** The `seq` from the (authenticated) envelope. */
  seq: number;
}

/** Judges one opened envelope; call in cursor order and persist the returned guard. */
export function guardMessage(
  guard: ReplayGuard,
  message: Judged,
): { guard: ReplayGuard; verdict: ReplayVerdict } {
  if (!isCursor(message.cursor)) throw new RangeError('not a cursor');
  if (compareCursors(message.cursor, guard.through) <= 0) {
    const note = guard.notes.find(([cursor]) => cursor === message.cursor)?.[1];
    return { guard, verdict: note ?? { replayed: false } };
  }
  const { state, verdict } = checkReplay(guard.senders, message.sender, message.seq);
  const note: GuardNote | undefined = verdict.replayed
    ? { replayed: true }
    : verdict.gapBefore !== undefined
      ? { replayed: false, gapBefore: verdict.gapBefore }
      : undefined;
  return {
    guard: {
      through: message.cursor,
      senders: state,
      notes: note
        ? [...guard.notes, [message.cursor, note] as [string, GuardNote]].slice(-MAX_GUARD_NOTES)
        : guard.notes,
    },
    verdict,
  };
}
