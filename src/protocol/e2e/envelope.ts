/**
 * E2E v1 envelopes (docs/e2e-v1.md): `nxe1.` + base32(H | commit | C | T), sealed with
 * AES-256-GCM under a per-message key, with the session id and the sender's agent id in the
 * AAD so a relay cannot move a message between sessions or re-attribute it.
 */
import {
  type CipherGCM,
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomFillSync,
  timingSafeEqual,
} from 'node:crypto';
import { base32Decode, base32Encode } from './base32.js';
import { type E2eDecryptError, E2eError } from './errors.js';
import { E2E_COMMIT_BYTES, E2E_KEY_ID_BYTES, E2E_SALT_BYTES, type E2eKey } from './keys.js';

export const E2E_VERSION = 1;
export const ENVELOPE_PREFIX = 'nxe1.';
/** UTF-8 JSON plaintext cap, so envelope + padding + base32 stay inside a relay's 32 KiB. */
export const MAX_E2E_PLAINTEXT_BYTES = 16 * 1024;
export const PAD_BLOCK = 256;
export const HEADER_BYTES = 30;
const TAG_BYTES = 16;
const NONCE = Buffer.alloc(12);
const AAD_LABEL = Buffer.from('nexus-e2e/1\0', 'utf8');
/** The high 32 bits of Number.MAX_SAFE_INTEGER (2^53 - 1). */
const MAX_SEQ_HIGH = 2 ** 21 - 1;
/**
 * Salts are cut from a block of random bytes filled 256 salts at a time: a call into the
 * CSPRNG per message cost more than the HKDF. Every byte is handed out once.
 */
const SALT_POOL = Buffer.alloc(E2E_SALT_BYTES * 256);
let saltOffset = SALT_POOL.length;

function freshSalt(): Buffer {
  if (saltOffset === SALT_POOL.length) {
    randomFillSync(SALT_POOL);
    saltOffset = 0;
  }
  const salt = Buffer.from(SALT_POOL.subarray(saltOffset, saltOffset + E2E_SALT_BYTES));
  saltOffset += E2E_SALT_BYTES;
  return salt;
}

export const E2E_KINDS = { message: 1, greeting: 2, hello: 3 } as const;
export type E2eKind = keyof typeof E2E_KINDS;
const KIND_BY_BYTE = new Map<number, E2eKind>(
  Object.entries(E2E_KINDS).map(([name, byte]) => [byte, name as E2eKind]),
);

/** What an envelope carries: a message body as the wire would have it. */
export interface E2ePayload {
  text?: string;
  json?: unknown;
}

export interface EnvelopeHeader {
  version: number;
  kind: E2eKind;
  keyId: Buffer;
  seq: number;
  salt: Buffer;
}

export function encodeHeader(header: EnvelopeHeader): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out[0] = header.version;
  out[1] = E2E_KINDS[header.kind];
  header.keyId.copy(out, 2, 0, E2E_KEY_ID_BYTES);
  // u64 as two u32 words: a safe integer's high word is below 2^21 (no BigInt per message).
  out.writeUInt32BE(Math.floor(header.seq / 2 ** 32), 6);
  out.writeUInt32BE(header.seq % 2 ** 32, 10);
  header.salt.copy(out, 14, 0, E2E_SALT_BYTES);
  return out;
}

/** "nexus-e2e/1" 0x00 | u16 len | sessionId | u16 len | sender agentId | H */
export function buildAad(sessionId: string, senderAgentId: string, header: Buffer): Buffer {
  return Buffer.concat([aadPrefix(sessionId, senderAgentId), header]);
}

/** The AAD before H, per session and sender: the same few pairs come back on every call. */
const AAD_PREFIXES = new Map<string, Map<string, Buffer>>();
const MAX_AAD_SESSIONS = 128;

function aadPrefix(sessionId: string, senderAgentId: string): Buffer {
  let senders = AAD_PREFIXES.get(sessionId);
  let prefix = senders?.get(senderAgentId);
  if (prefix) return prefix;
  const parts: Buffer[] = [AAD_LABEL];
  for (const field of [sessionId, senderAgentId]) {
    const bytes = Buffer.from(field, 'utf8');
    if (bytes.length > 0xffff) throw new RangeError('AAD field longer than 65535 bytes');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    parts.push(length, bytes);
  }
  prefix = Buffer.concat(parts);
  if (!senders) {
    if (AAD_PREFIXES.size >= MAX_AAD_SESSIONS) AAD_PREFIXES.clear();
    senders = new Map();
    AAD_PREFIXES.set(sessionId, senders);
  }
  // A session's senders are its members (a relay caps them); a hostile relay naming endless
  // agents only refills this one map.
  if (senders.size >= MAX_AAD_SESSIONS) senders.clear();
  senders.set(senderAgentId, prefix);
  return prefix;
}

/** 0x80, then zeros up to a multiple of 256: hides lengths to the nearest block. */
export function pad(plain: Uint8Array): Buffer {
  const size = Math.ceil((plain.length + 1) / PAD_BLOCK) * PAD_BLOCK;
  const out = Buffer.alloc(size);
  out.set(plain);
  out[plain.length] = 0x80;
  return out;
}

/** The inverse of `pad`; null when the padding is not exactly 0x80 then zeros. */
export function unpad(padded: Uint8Array): Buffer | null {
  if (padded.length === 0 || padded.length % PAD_BLOCK !== 0) return null;
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 0x80 || padded.length - end > PAD_BLOCK) return null;
  return Buffer.from(padded.subarray(0, end));
}

/** The plaintext bytes of a payload; throws `E2eError` when it is empty, not JSON or too big. */
export function encodePayload(payload: E2ePayload, kind: E2eKind): Buffer {
  if (payload.text !== undefined && typeof payload.text !== 'string') {
    throw invalidPayload('text must be a string');
  }
  if (kind !== 'hello' && payload.text === undefined && payload.json === undefined) {
    throw invalidPayload('give text, json or both');
  }
  let json: string | undefined;
  try {
    json = JSON.stringify({
      ...(payload.text !== undefined && { text: payload.text }),
      ...(payload.json !== undefined && { json: payload.json }),
    });
  } catch {
    throw invalidPayload('json is not serialisable');
  }
  const bytes = Buffer.from(json ?? '{}', 'utf8');
  if (bytes.length > MAX_E2E_PLAINTEXT_BYTES) {
    throw new E2eError(
      'plaintext_too_large',
      `The message is ${bytes.length} bytes as JSON; encrypted messages hold at most ${MAX_E2E_PLAINTEXT_BYTES}.`,
      'Split it into smaller messages.',
    );
  }
  return bytes;
}

function invalidPayload(why: string): E2eError {
  return new E2eError(
    'invalid_payload',
    `Cannot encrypt this message: ${why}.`,
    'Send text, a JSON value, or both.',
  );
}

export interface SealInput {
  key: E2eKey;
  sessionId: string;
  /** The agent id the relay will attribute the message to: our own. */
  senderAgentId: string;
  kind: E2eKind;
  /** Per (session, own agent id), from 1, taken under the store lock. */
  seq: number;
  payload: E2ePayload;
  /** Only for test vectors: a fixed salt instead of 16 random bytes. */
  salt?: Uint8Array;
}

/**
 * What sealing one message needs before its `seq` and payload are known: a fresh salt, the
 * message keys derived from it, and the cipher keyed with `K_enc`. Used once, then dropped.
 */
interface SealMaterial {
  salt: Buffer;
  commit: Buffer;
  cipher: CipherGCM;
}

function sealMaterial(key: E2eKey, salt: Buffer): SealMaterial {
  const { encKey, commit } = key.messageKeys(salt);
  // A KeyObject, not the bytes: Node checks a Buffer key's brand by a throw, 3× the cipher's cost.
  const cipher = createCipheriv('aes-256-gcm', createSecretKey(encKey), NONCE, {
    authTagLength: TAG_BYTES,
  });
  return { salt, commit, cipher };
}

/** At most one prepared material per key, taken by the next seal with that key. */
const prepared = new WeakMap<E2eKey, SealMaterial>();

/**
 * Derives the next message's salt, keys and cipher ahead of time, for a caller with a moment to
 * spare (while a request is in flight): the HKDF and the cipher's set-up are half of sealing,
 * and none of it depends on the `seq` or the payload. Each salt still seals one message only.
 */
export function prepareSeal(key: E2eKey): void {
  if (!prepared.has(key)) prepared.set(key, sealMaterial(key, freshSalt()));
}

function takeMaterial(key: E2eKey): SealMaterial {
  const ready = prepared.get(key);
  if (!ready) return sealMaterial(key, freshSalt());
  prepared.delete(key);
  return ready;
}

/** Encrypts a payload into the `text` of a message body: `nxe1.…`. */
export function sealEnvelope(input: SealInput): string {
  if (!Number.isSafeInteger(input.seq) || input.seq < 1) {
    throw new RangeError('seq must be a whole number from 1');
  }
  if (input.salt && input.salt.length !== E2E_SALT_BYTES) {
    throw new RangeError('salt must be 16 bytes');
  }
  const plain = pad(encodePayload(input.payload, input.kind));
  const { salt, commit, cipher } = input.salt
    ? sealMaterial(input.key, Buffer.from(input.salt))
    : takeMaterial(input.key);
  const header = encodeHeader({
    version: E2E_VERSION,
    kind: input.kind,
    keyId: input.key.keyId(),
    seq: input.seq,
    salt,
  });
  cipher.setAAD(buildAad(input.sessionId, input.senderAgentId, header));
  const ciphertext = cipher.update(plain);
  const raw = Buffer.concat([header, commit, ciphertext, cipher.final(), cipher.getAuthTag()]);
  return ENVELOPE_PREFIX + base32Encode(raw);
}

export function isEnvelopeText(text: string): boolean {
  return text.startsWith(ENVELOPE_PREFIX);
}

/** The hex `key_id` of a v1 envelope, read without any key; undefined when it is not one. */
export function envelopeKeyId(text: string): string | undefined {
  if (!isEnvelopeText(text)) return undefined;
  const raw = base32Decode(text.slice(ENVELOPE_PREFIX.length));
  if (!raw || raw.length < HEADER_BYTES || raw[0] !== E2E_VERSION) return undefined;
  return Buffer.from(raw.subarray(2, 2 + E2E_KEY_ID_BYTES)).toString('hex');
}

export interface OpenInput {
  /** The message's `text` as polled. */
  text: string;
  /** The session the message was polled from. */
  sessionId: string;
  /** The relay's `agentId` for this message. */
  senderAgentId: string;
  /** Undefined when this client holds no key for the session. */
  key: E2eKey | undefined;
}

export type OpenResult =
  | { ok: true; kind: E2eKind; seq: number; payload: E2ePayload }
  | { ok: false; error: Exclude<E2eDecryptError, 'replayed'> };

const MIN_V1_BYTES = HEADER_BYTES + E2E_COMMIT_BYTES + PAD_BLOCK + TAG_BYTES;

/** Decrypts one envelope, checking in the order E2E.md fixes. Never throws for bad input. */
export function openEnvelope(input: OpenInput): OpenResult {
  if (!isEnvelopeText(input.text)) return { ok: false, error: 'malformed' };
  const bytes = base32Decode(input.text, ENVELOPE_PREFIX.length);
  if (!bytes || bytes.length === 0) return { ok: false, error: 'malformed' };
  if (bytes[0] !== E2E_VERSION) return { ok: false, error: 'unsupported_version' };
  if (bytes.length < MIN_V1_BYTES || (bytes.length - MIN_V1_BYTES) % PAD_BLOCK !== 0) {
    return { ok: false, error: 'malformed' };
  }
  const header = bytes.subarray(0, HEADER_BYTES);
  const kind = KIND_BY_BYTE.get(header[1] ?? 0);
  const high = header.readUInt32BE(6);
  const seq = high * 2 ** 32 + header.readUInt32BE(10);
  // A high word past 2^21 - 1 is beyond MAX_SAFE_INTEGER.
  if (!kind || seq < 1 || high > MAX_SEQ_HIGH) return { ok: false, error: 'malformed' };
  if (!input.key) return { ok: false, error: 'no_key' };
  if (!input.key.hasKeyId(header.subarray(2, 6))) {
    return { ok: false, error: 'wrong_key' };
  }
  const salt = header.subarray(14, 30);
  const commitEnd = HEADER_BYTES + E2E_COMMIT_BYTES;
  const { encKey, commit } = input.key.messageKeys(salt);
  if (!timingSafeEqual(bytes.subarray(HEADER_BYTES, commitEnd), commit)) {
    return { ok: false, error: 'tampered' };
  }
  let padded: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', createSecretKey(encKey), NONCE, {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(buildAad(input.sessionId, input.senderAgentId, header));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    padded = decipher.update(bytes.subarray(commitEnd, bytes.length - TAG_BYTES));
    // GCM is a stream mode: final() checks the tag and returns no bytes.
    const rest = decipher.final();
    if (rest.length > 0) padded = Buffer.concat([padded, rest]);
  } catch {
    return { ok: false, error: 'tampered' };
  }
  const payload = decodePayload(unpad(padded), kind);
  return payload ? { ok: true, kind, seq, payload } : { ok: false, error: 'malformed' };
}

/** Throws on bytes that are not UTF-8; keeps no state between calls (no `stream`). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Authenticated but not what a v1 client writes (bad padding, not a JSON object) → null. */
function decodePayload(plain: Buffer | null, kind: E2eKind): E2ePayload | null {
  if (!plain) return null;
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(plain));
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  const text = Object.hasOwn(record, 'text') ? record.text : undefined;
  const json = Object.hasOwn(record, 'json') ? record.json : undefined;
  if (text !== undefined && typeof text !== 'string') return null;
  if (kind !== 'hello' && text === undefined && json === undefined) return null;
  return {
    ...(text !== undefined && { text }),
    ...(json !== undefined && { json }),
  };
}
