import { randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';

/** 24 random bytes: 192 bits, 48 lower-case hex characters like the live service. */
export function newSessionId(): string {
  return randomBytes(24).toString('hex');
}

/** 32 random bytes (256 bits) per agent per session. */
export function newSessionKey(): string {
  return randomBytes(32).toString('hex');
}

const MESSAGE_ID_BYTES = 12;
/** Random bytes for 256 message ids at a time: one CSPRNG call per 256 sends, not one per send. */
const idPool = Buffer.alloc(MESSAGE_ID_BYTES * 256);
let idOffset = idPool.length;

/** `msg_` and 12 random bytes in hex. Ids are not secrets; keys and session ids are not pooled. */
export function newMessageId(): string {
  if (idOffset >= idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + MESSAGE_ID_BYTES);
  idOffset += MESSAGE_ID_BYTES;
  return `msg_${id}`;
}

/** Constant-time for keys of the right length; the length itself is no secret. */
export function keysMatch(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
