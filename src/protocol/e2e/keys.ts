/**
 * The key schedule of E2E v1 (docs/e2e-v1.md): the session secret `S` (32 random bytes from the
 * link) gives `K_root` and a 4-byte `key_id`; every message gets its own AES key and a key
 * commitment from `K_root` and a fresh 16-byte salt.
 */
import { createSecretKey, hkdfSync, type KeyObject, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

export const E2E_SECRET_BYTES = 32;
export const E2E_SALT_BYTES = 16;
export const E2E_KEY_ID_BYTES = 4;
export const E2E_COMMIT_BYTES = 32;

const ROOT_SALT = 'nexus-e2e/1';
const MESSAGE_INFO = 'nexus-e2e/1 msg';

function hkdf(
  ikm: Uint8Array | KeyObject,
  salt: Uint8Array | string,
  info: string,
  length: number,
): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/**
 * A session's key material. The fields are private and the object prints as `[E2eKey]`, so a
 * stray log line or JSON.stringify cannot leak it; `secret()` is for the store and the link only.
 */
export class E2eKey {
  readonly #secret: Buffer;
  readonly #root: Buffer;
  readonly #keyId: Buffer;
  /** K_root as a KeyObject: HKDF from one is less than half the cost of one from bytes. */
  readonly #rootObject: KeyObject;

  private constructor(secret: Buffer) {
    this.#secret = secret;
    this.#root = hkdf(secret, ROOT_SALT, 'root', 32);
    this.#rootObject = createSecretKey(this.#root);
    this.#keyId = hkdf(this.#root, '', 'key-id', E2E_KEY_ID_BYTES);
  }

  /** `S` must be exactly 32 bytes. */
  static fromSecret(secret: Uint8Array): E2eKey {
    if (secret.length !== E2E_SECRET_BYTES) {
      throw new RangeError(`an E2E secret is ${E2E_SECRET_BYTES} bytes`);
    }
    return new E2eKey(Buffer.from(secret));
  }

  /** A fresh `S` for a new encrypted session. */
  static generate(): E2eKey {
    return new E2eKey(randomBytes(E2E_SECRET_BYTES));
  }

  /** `S` itself: only for the 0600 store and the link fragment. */
  secret(): Buffer {
    return Buffer.from(this.#secret);
  }

  /** Public: it travels in every envelope header. */
  keyId(): Buffer {
    return Buffer.from(this.#keyId);
  }

  /** `K_root`, for tests and secret scans that must look for derived keys too. */
  rootKey(): Buffer {
    return Buffer.from(this.#root);
  }

  /** Per message: `K_enc` = OKM[0:32], `commit` = OKM[32:64]. */
  messageKeys(salt: Uint8Array): { encKey: Buffer; commit: Buffer } {
    const okm = hkdf(this.#rootObject, salt, MESSAGE_INFO, 64);
    return { encKey: okm.subarray(0, 32), commit: okm.subarray(32, 64) };
  }

  toJSON(): string {
    return '[E2eKey]';
  }

  [inspect.custom](): string {
    return '[E2eKey]';
  }
}
