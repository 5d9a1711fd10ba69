/**
 * What the client does to a message body before it leaves the machine: the relay's redaction
 * patterns (one implementation, `redact.ts`) and a scan for the secrets this client stores, so
 * a session key or an E2E key pasted (or injected) into a message is refused, not sent.
 */
import { base32Encode } from './e2e/base32.js';
import { redactJson, redactSecrets } from './redact.js';

export interface OutgoingBody {
  text?: string;
  json?: unknown;
}

/** A send refused because the body holds a secret this client stores; nothing was sent. */
export class SecretInMessageError extends Error {
  override readonly name = 'SecretInMessageError';
  readonly code = 'secret_in_message';
  readonly hint =
    'Remove the key or link from the message and send again; share a link only through the human, never through a session.';
  constructor(readonly finding: SecretFinding) {
    super(
      finding.kind === 'e2e_link'
        ? 'Not sent: the message contains a link with an end-to-end key (#e2e=), which would hand the key to the relay.'
        : `Not sent: the message contains a stored ${finding.kind === 'session_key' ? 'session key' : 'end-to-end key'} (${finding.encoding}).`,
    );
  }
}

/**
 * The client's last step before a body leaves the machine (before any `seq` is taken or any
 * envelope sealed): refuse stored secrets, then redact. `redaction: false` only from
 * `NEXUS_CLIENT_REDACTION=off`; the secret scan runs regardless.
 */
export function prepareOutgoing<T extends OutgoingBody>(
  body: T,
  options: { redaction: boolean; scanner: SecretScanner },
): { body: T; redacted: number } {
  const finding = options.scanner.find(body);
  if (finding) throw new SecretInMessageError(finding);
  return options.redaction ? redactOutgoing(body) : { body, redacted: 0 };
}

/** Applies the relay's redaction to an outgoing body; `redacted` counts the replacements. */
export function redactOutgoing<T extends OutgoingBody>(body: T): { body: T; redacted: number } {
  let redacted = 0;
  const out: T = { ...body };
  if (typeof body.text === 'string') {
    const result = redactSecrets(body.text);
    out.text = result.text;
    redacted += result.count;
  }
  if (body.json !== undefined) {
    const result = redactJson(body.json);
    out.json = result.value;
    redacted += result.count;
  }
  return { body: out, redacted };
}

export type StoredSecretKind = 'session_key' | 'e2e_secret' | 'e2e_link';
export type SecretEncoding = 'raw' | 'base64' | 'base64url' | 'hex' | 'base32' | 'link';

export interface StoredSecret {
  kind: Exclude<StoredSecretKind, 'e2e_link'>;
  /** A string as stored (a session key), or raw bytes (an E2E secret `S`). */
  value: string | Uint8Array;
}

/** What was found; never the secret itself. */
export interface SecretFinding {
  kind: StoredSecretKind;
  encoding: SecretEncoding;
}

interface Needle extends SecretFinding {
  text: string;
  /** Hex and base32 are matched in any case; base64 forms are case-sensitive. */
  anyCase: boolean;
}

/** Shorter needles would match by chance; every secret we store is 32 bytes. */
const MIN_NEEDLE = 16;
/** `e2e=1.<43 base64url>`, or with the `=` percent-encoded: a key for some encrypted session. */
const E2E_FRAGMENT = /e2e(?:=|%3d)1\.[A-Za-z0-9_-]{43}/i;

function byteNeedles(kind: StoredSecret['kind'], bytes: Buffer): Needle[] {
  const b64 = bytes.toString('base64').replace(/=+$/, '');
  return [
    { kind, encoding: 'base64', text: b64, anyCase: false },
    { kind, encoding: 'base64url', text: bytes.toString('base64url'), anyCase: false },
    { kind, encoding: 'hex', text: bytes.toString('hex'), anyCase: true },
    { kind, encoding: 'base32', text: base32Encode(bytes), anyCase: true },
  ];
}

function needlesFor(secret: StoredSecret): Needle[] {
  if (typeof secret.value !== 'string') return byteNeedles(secret.kind, Buffer.from(secret.value));
  const value = secret.value;
  const hex = /^(?:[0-9a-f]{2})+$/i.test(value);
  return [
    { kind: secret.kind, encoding: 'raw', text: value, anyCase: hex },
    ...byteNeedles(secret.kind, Buffer.from(value, 'utf8')),
    // A hex key is also bytes: catch those bytes re-encoded.
    ...(hex ? byteNeedles(secret.kind, Buffer.from(value, 'hex')) : []),
  ];
}

/** `%2B` → `+` and so on, for ASCII only: enough to see a percent-encoded key. */
function percentDecoded(text: string): string {
  return text.replace(/%([0-9a-f]{2})/gi, (match, hex: string) => {
    const code = Number.parseInt(hex, 16);
    return code < 0x80 ? String.fromCharCode(code) : match;
  });
}

/**
 * Finds stored secrets in outgoing bodies. Build one per change of the stored secrets (the
 * needles are computed once) and call `find` before every send.
 */
export class SecretScanner {
  readonly #needles: Needle[];

  constructor(secrets: readonly StoredSecret[]) {
    this.#needles = secrets
      .flatMap(needlesFor)
      .filter((needle) => needle.text.length >= MIN_NEEDLE)
      .map((needle) => (needle.anyCase ? { ...needle, text: needle.text.toLowerCase() } : needle));
  }

  /** The first stored secret (or E2E link key) the body contains, in any common encoding. */
  find(body: OutgoingBody): SecretFinding | null {
    const parts: string[] = [];
    if (typeof body.text === 'string') parts.push(body.text);
    if (body.json !== undefined) parts.push(JSON.stringify(body.json) ?? '');
    for (const part of parts) {
      const decoded = percentDecoded(part);
      for (const haystack of decoded === part ? [part] : [part, decoded]) {
        const found = this.#findIn(haystack);
        if (found) return found;
      }
    }
    return null;
  }

  #findIn(haystack: string): SecretFinding | null {
    if (E2E_FRAGMENT.test(haystack)) return { kind: 'e2e_link', encoding: 'link' };
    const lower = haystack.toLowerCase();
    for (const needle of this.#needles) {
      const target = needle.anyCase ? lower : haystack;
      if (target.includes(needle.text)) return { kind: needle.kind, encoding: needle.encoding };
    }
    return null;
  }
}
