/**
 * For secret scans of end-to-end tests: every spelling of a session's key material that must
 * never show up in tool output, resources, logs or errors (only `link` fields may hold `S`).
 */
import {
  base32Decode,
  base32Encode,
  type E2eKey,
  ENVELOPE_PREFIX,
  HEADER_BYTES,
} from '../../src/protocol/e2e/index.js';

/** base64 (unpadded), base64url, hex and base32 of `bytes`, the case-free ones lowercased. */
export function spellings(bytes: Uint8Array): string[] {
  const buffer = Buffer.from(bytes);
  return [
    buffer.toString('base64').replace(/=+$/, ''),
    buffer.toString('base64url'),
    buffer.toString('hex'),
    base32Encode(buffer),
  ];
}

/** S, K_root and the K_enc of every envelope given (their salts are on the wire). */
export function e2eKeyMaterial(key: E2eKey, envelopes: readonly string[] = []): Uint8Array[] {
  const perMessage = envelopes.flatMap((envelope) => {
    const raw = base32Decode(envelope.slice(ENVELOPE_PREFIX.length));
    if (!envelope.startsWith(ENVELOPE_PREFIX) || !raw || raw.length < HEADER_BYTES) return [];
    return [key.messageKeys(raw.subarray(14, HEADER_BYTES)).encKey];
  });
  return [key.secret(), key.rootKey(), ...perMessage];
}

/** The first spelling of any of `material` found in `text` (case-insensitively for hex/base32). */
export function findKeyMaterial(text: string, material: readonly Uint8Array[]): string | undefined {
  const lower = text.toLowerCase();
  for (const bytes of material) {
    const [b64, b64url, hex, b32] = spellings(bytes) as [string, string, string, string];
    if (text.includes(b64) || text.includes(b64url)) return b64url;
    if (lower.includes(hex) || lower.includes(b32)) return hex;
  }
  return undefined;
}
