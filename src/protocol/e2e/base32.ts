/**
 * Lowercase RFC 4648 base32 without padding (`a–z2–7`), the envelope's alphabet: no capitals
 * and none of `- _ . : = + /`, so a relay's secret patterns cannot match inside an envelope.
 * Decoding is canonical: exactly one string encodes a byte string, so a flipped trailing bit
 * or an impossible length is `null`, never a second spelling of the same bytes.
 */
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;

const CODES = Buffer.from(ALPHABET, 'latin1');

export function base32Encode(bytes: Uint8Array): string {
  // Character codes into one buffer, read as a string once: a string grown a character at a
  // time cost more than the cipher for an envelope.
  const out = Buffer.allocUnsafe(Math.ceil((bytes.length * 8) / 5));
  let index = 0;
  let buffer = 0;
  let bits = 0;
  for (let i = 0; i < bytes.length; i++) {
    buffer = ((buffer << 8) | (bytes[i] as number)) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[index++] = CODES[(buffer >> bits) & 31] as number;
    }
  }
  if (bits > 0) out[index++] = CODES[(buffer << (5 - bits)) & 31] as number;
  return out.toString('latin1', 0, index);
}

/** Lengths mod 8 that a whole number of bytes can produce (1, 3 and 6 cannot). */
const VALID_TAIL = new Set([0, 2, 4, 5, 7]);

/**
 * Decodes `text` from index `start` on (an envelope's base32 follows its prefix: no copy of the
 * rest of the string is made). A Buffer, so callers read it without wrapping it again.
 */
export function base32Decode(text: string, start = 0): Buffer | null {
  const length = text.length - start;
  if (length < 0 || !VALID_TAIL.has(length % 8)) return null;
  const out = Buffer.alloc(Math.floor((length * 5) / 8));
  let index = 0;
  // Whole groups of 8 characters are 5 bytes: decoded a group at a time (an envelope is
  // hundreds of groups), the tail bit by bit below.
  const end = start + (length & ~7);
  for (let i = start; i < end; i += 8) {
    const v0 = value(text.charCodeAt(i));
    const v1 = value(text.charCodeAt(i + 1));
    const v2 = value(text.charCodeAt(i + 2));
    const v3 = value(text.charCodeAt(i + 3));
    const v4 = value(text.charCodeAt(i + 4));
    const v5 = value(text.charCodeAt(i + 5));
    const v6 = value(text.charCodeAt(i + 6));
    const v7 = value(text.charCodeAt(i + 7));
    if ((v0 | v1 | v2 | v3 | v4 | v5 | v6 | v7) < 0) return null;
    out[index++] = (v0 << 3) | (v1 >> 2);
    out[index++] = ((v1 & 3) << 6) | (v2 << 1) | (v3 >> 4);
    out[index++] = ((v3 & 15) << 4) | (v4 >> 1);
    out[index++] = ((v4 & 1) << 7) | (v5 << 2) | (v6 >> 3);
    out[index++] = ((v6 & 7) << 5) | v7;
  }
  let buffer = 0;
  let bits = 0;
  for (let i = end; i < text.length; i++) {
    const v = value(text.charCodeAt(i));
    if (v < 0) return null;
    buffer = ((buffer << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >> bits) & 0xff;
    }
  }
  // Leftover bits must be zero, or two strings would decode to the same bytes.
  if ((buffer & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

/** The 5-bit value of a character code, or -1 outside the alphabet. */
function value(code: number): number {
  return code < 128 ? (VALUES[code] as number) : -1;
}
