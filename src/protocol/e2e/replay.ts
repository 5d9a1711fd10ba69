/**
 * Per-sender replay windows: the highest `seq` seen from each sender and which of the 1,024
 * before it were seen. Pure functions over plain JSON, so the store can persist the state
 * beside the session and update it under its lock.
 */
export const REPLAY_WINDOW = 1024;
const BITMAP_BYTES = REPLAY_WINDOW / 8;

/** One sender's window. `seen`: base64 bitmap, bit i set when `highest - i` was seen. */
export interface ReplayWindow {
  highest: number;
  seen: string;
}

/** Windows by sender agent id, as stored. */
export type ReplayState = Record<string, ReplayWindow>;

export type ReplayVerdict = { replayed: true } | { replayed: false; gapBefore?: number };

function isSet(bitmap: Uint8Array, i: number): boolean {
  return ((bitmap[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

function set(bitmap: Uint8Array, i: number): void {
  bitmap[i >> 3] = (bitmap[i >> 3] ?? 0) | (1 << (i & 7));
}

/**
 * The bitmap with every bit i moved to i + shift (bits past the window fall off): byte by byte,
 * as bit i lives in byte i >> 3 at bit i & 7. A bit at a time was 1,024 steps per message.
 */
function shifted(old: Uint8Array, shift: number): Uint8Array {
  const bitmap = new Uint8Array(BITMAP_BYTES);
  if (shift >= REPLAY_WINDOW) return bitmap;
  const bytes = shift >> 3;
  const bits = shift & 7;
  for (let j = BITMAP_BYTES - 1; j >= bytes; j--) {
    const low = old[j - bytes] ?? 0;
    const carry = bits > 0 && j - bytes - 1 >= 0 ? (old[j - bytes - 1] ?? 0) >> (8 - bits) : 0;
    bitmap[j] = ((low << bits) | carry) & 0xff;
  }
  return bitmap;
}

function readBitmap(window: ReplayWindow): Uint8Array {
  // A fresh buffer of its own (decoded from the string), so the caller may change it in place.
  const bytes = Buffer.from(window.seen, 'base64');
  // A damaged bitmap counts as "nothing seen" rather than failing every later message.
  return bytes.length === BITMAP_BYTES ? bytes : new Uint8Array(BITMAP_BYTES);
}

function base64(bitmap: Uint8Array): string {
  return Buffer.from(bitmap.buffer, bitmap.byteOffset, bitmap.length).toString('base64');
}

/**
 * Checks `seq` against one sender's window and returns the window after accepting it.
 * A first message from a sender reports the `seq - 1` messages before it as a gap; a jump past
 * the highest reports the skipped count; a late `seq` inside the window fills its hole; a `seq`
 * seen before, or too old for the window to tell, is `replayed` (the window is unchanged).
 */
export function acceptSeq(
  window: ReplayWindow | undefined,
  seq: number,
): { window: ReplayWindow; verdict: ReplayVerdict } {
  if (!Number.isSafeInteger(seq) || seq < 1)
    throw new RangeError('seq must be a whole number from 1');
  if (!window || !Number.isSafeInteger(window.highest) || window.highest < 1) {
    const bitmap = new Uint8Array(BITMAP_BYTES);
    set(bitmap, 0);
    const fresh = { highest: seq, seen: base64(bitmap) };
    return {
      window: fresh,
      verdict: seq > 1 ? { replayed: false, gapBefore: seq - 1 } : { replayed: false },
    };
  }
  const old = readBitmap(window);
  if (seq > window.highest) {
    const shift = seq - window.highest;
    const bitmap = shifted(old, shift);
    set(bitmap, 0);
    const gap = shift - 1;
    return {
      window: { highest: seq, seen: base64(bitmap) },
      verdict: gap > 0 ? { replayed: false, gapBefore: gap } : { replayed: false },
    };
  }
  const offset = window.highest - seq;
  if (offset >= REPLAY_WINDOW || isSet(old, offset)) return { window, verdict: { replayed: true } };
  set(old, offset);
  return {
    window: { highest: window.highest, seen: base64(old) },
    verdict: { replayed: false },
  };
}

/** `acceptSeq` over the stored state of all senders; the input state is not modified. */
export function checkReplay(
  state: ReplayState,
  sender: string,
  seq: number,
): { state: ReplayState; verdict: ReplayVerdict } {
  const current = Object.hasOwn(state, sender) ? state[sender] : undefined;
  const { window, verdict } = acceptSeq(current, seq);
  if (window === current) return { state, verdict };
  // fromEntries defines own properties, so an agent id "__proto__" stays data.
  return { state: Object.fromEntries([...Object.entries(state), [sender, window]]), verdict };
}
