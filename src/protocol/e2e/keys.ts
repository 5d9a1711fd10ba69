/**
 * The key schedule of E2E v1 (docs/e2e-v1.md): the session secret `S` (32 random bytes from the
 * link) gives `K_root` and a 4-byte `key_id`; every message gets its own AES key and a key
 * commitment from `K_root` and a fresh 16-byte salt.
 */
import { hash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

export const E2E_SECRET_BYTES = 32;
export const E2E_SALT_BYTES = 16;
export const E2E_KEY_ID_BYTES = 4;
export const E2E_COMMIT_BYTES = 32;

const ROOT_SALT = 'nexus-e2e/1';
const MESSAGE_INFO = Buffer.from('nexus-e2e/1 msg', 'latin1');
const SHA256_BLOCK = 64;
const SHA256_BYTES = 32;

function hkdf(ikm: Uint8Array, salt: Uint8Array | string, info: string, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** Scratch for `hmacSha256`: pad block, then the message (at most 32 + 15 + 1 bytes). */
const INNER = Buffer.alloc(SHA256_BLOCK + SHA256_BYTES + MESSAGE_INFO.length + 1);
const OUTER = Buffer.alloc(SHA256_BLOCK + SHA256_BYTES);

/**
 * HMAC-SHA256(key, data ‖ more? ‖ counter?) for keys up to one block (a salt, a PRK): the
 * padded key XOR ipad/opad, hashed with the message. Synchronous, so one scratch serves all.
 */
function hmacSha256(
  key: Uint8Array,
  data: Uint8Array,
  counter?: number,
  more?: Uint8Array,
): Buffer {
  if (key.length > SHA256_BLOCK) throw new RangeError('an HMAC key here is at most one block');
  for (let i = 0; i < SHA256_BLOCK; i++) {
    const byte = i < key.length ? (key[i] as number) : 0;
    INNER[i] = byte ^ 0x36;
    OUTER[i] = byte ^ 0x5c;
  }
  let end = SHA256_BLOCK + data.length;
  INNER.set(data, SHA256_BLOCK);
  if (more) {
    INNER.set(more, end);
    end += more.length;
  }
  if (counter !== undefined) INNER[end++] = counter;
  OUTER.set(hash('sha256', INNER.subarray(0, end), 'buffer'), SHA256_BLOCK);
  return hash('sha256', OUTER, 'buffer');
}

/**
 * A session's key material. The fields are private and the object prints as `[E2eKey]`, so a
 * stray log line or JSON.stringify cannot leak it; `secret()` is for the store and the link only.
 */
export class E2eKey {
  readonly #secret: Buffer;
  readonly #root: Buffer;
  readonly #keyId: Buffer;

  private constructor(secret: Buffer) {
    this.#secret = secret;
    this.#root = hkdf(secret, ROOT_SALT, 'root', 32);
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

  /** Whether `bytes` is this key's id: an opened envelope's check, without a copy of the id. */
  hasKeyId(bytes: Uint8Array): boolean {
    return bytes.length === this.#keyId.length && timingSafeEqual(bytes, this.#keyId);
  }

  /** `K_root`, for tests and secret scans that must look for derived keys too. */
  rootKey(): Buffer {
    return Buffer.from(this.#root);
  }

  /**
   * Per message: `K_enc` = OKM[0:32], `commit` = OKM[32:64] of HKDF-SHA256(K_root, salt,
   * "nexus-e2e/1 msg", 64), spelled out as its three HMACs (RFC 5869: extract, then two expand
   * blocks) over one-shot SHA-256: `hkdfSync` builds a crypto job per call, which in a server
   * between other work cost 24 µs a message against 17 µs for these six hashes. The test
   * vectors pin the output to `hkdfSync`'s.
   */
  messageKeys(salt: Uint8Array): { encKey: Buffer; commit: Buffer } {
    const prk = hmacSha256(salt, this.#root);
    const encKey = hmacSha256(prk, MESSAGE_INFO, 1);
    const commit = hmacSha256(prk, encKey, 2, MESSAGE_INFO);
    // The scratch held the padded PRK: nothing of a message key outlives the call there.
    INNER.fill(0);
    OUTER.fill(0);
    return { encKey, commit };
  }

  toJSON(): string {
    return '[E2eKey]';
  }

  [inspect.custom](): string {
    return '[E2eKey]';
  }
}
