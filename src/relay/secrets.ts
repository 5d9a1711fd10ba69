import { randomBytes, timingSafeEqual } from 'node:crypto';

/** 24 random bytes: 192 bits, 48 lower-case hex characters like the live service. */
export function newSessionId(): string {
  return randomBytes(24).toString('hex');
}

/** 32 random bytes (256 bits) per agent per session. */
export function newSessionKey(): string {
  return randomBytes(32).toString('hex');
}

export function newMessageId(): string {
  return `msg_${randomBytes(12).toString('hex')}`;
}

/** Constant-time for keys of the right length; the length itself is no secret. */
export function keysMatch(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
