/** Identifier and code formats of the protocol, and the parsing of what humans paste. */

/** Self-declared agent ids: letters, digits, `-` and `_`, at most 128 characters. */
export const AGENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Our relay mints 48 lower-case hex chars; other relays may differ, so clients accept more. */
export const RELAY_SESSION_ID_PATTERN = /^[0-9a-f]{48}$/;
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** Decimal, non-negative, no leading zeros (except "0" itself). */
export const CURSOR_PATTERN = /^(0|[1-9][0-9]{0,30})$/;

/** What our relay mints: two upper-case words and five RFC 4648 base32 characters. */
export const RELAY_PAIR_CODE_PATTERN = /^[A-Z]{3,8}-[A-Z]{3,8}-[A-Z2-7]{5}$/;
/** What a client accepts from any relay: dash-separated alphanumeric groups. */
export const PAIR_CODE_PATTERN = /^[A-Z0-9]{1,32}(-[A-Z0-9]{1,32}){1,5}$/;

export function isAgentId(value: string): boolean {
  return AGENT_ID_PATTERN.test(value);
}

/** A session id a client accepts; never a name Object.prototype holds, since ids key the store. */
export function isSessionId(value: string): boolean {
  return SESSION_ID_PATTERN.test(value) && !(value in Object.prototype);
}

/** A URL as an error may echo it: without credentials. */
export function withoutCredentials(input: string): string {
  return input.replace(/\/\/[^/?#]*@/, '//…@');
}

export function isCursor(value: string): boolean {
  return CURSOR_PATTERN.test(value);
}

export function compareCursors(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function maxCursor(a: string, b: string): string {
  return compareCursors(a, b) >= 0 ? a : b;
}

/**
 * Normalises a relay base URL: lower-case scheme and host, no default port, no trailing slash,
 * no query or fragment. A path is kept, since a relay may live under one (`https://host/nexus`).
 * Throws a TypeError for anything that is not an http(s) URL.
 */
export function normalizeServerUrl(input: string): string {
  const url = new URL(input.trim());
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`not an http(s) URL: ${url.protocol}`);
  }
  if (url.username || url.password) throw new TypeError('server URLs may not carry credentials');
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}

export interface PairingReference {
  code: string;
  /** Set when the input was a link: the relay the code belongs to. */
  server?: string;
}

export type PairingInputReading =
  | { ok: true; reference: PairingReference }
  /** `shown`: the input without any credentials in it, for an error to echo (cut it). */
  | { ok: false; problem: string; shown: string };

/**
 * Reads what a human pasted: a bare code in any case (`pearl-focal-s5sjv`), a link
 * `<base>/p/<CODE>`, or `<base>/v1/pair/<CODE>/skill`. Never throws: anything else answers
 * what is wrong with it, and the input as it may be shown.
 */
export function readPairingInput(input: string): PairingInputReading {
  const shown = withoutCredentials(input);
  const fail = (problem: string) => ({ ok: false as const, problem, shown });
  const trimmed = input.trim().replace(/^<|>$/g, '');
  if (trimmed === '') return fail('the input is empty');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) && !/^https?:\/\//i.test(trimmed))
    return fail('a pairing link starts with http:// or https://');
  if (/^https?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      return fail('the link is not a valid URL');
    }
    if (url.username || url.password)
      return fail('the link carries credentials (user:password@), which pairing links never do');
    const match =
      /^(.*)\/p\/([^/]+)\/?$/.exec(url.pathname) ??
      /^(.*)\/v1\/pair\/([^/]+)(?:\/[a-z]+)?\/?$/.exec(url.pathname);
    if (!match) return fail('the link has no /p/<CODE> or /v1/pair/<CODE> path');
    let decoded: string;
    try {
      decoded = decodeURIComponent(match[2] ?? '');
    } catch {
      return fail('the code in the link has bad percent-encoding');
    }
    const code = normalizePairCode(decoded);
    if (!code) return fail('the code in the link is not a pairing code');
    url.pathname = match[1] ?? '';
    url.search = '';
    url.hash = '';
    try {
      return { ok: true, reference: { code, server: normalizeServerUrl(url.toString()) } };
    } catch {
      return fail('the relay part of the link is not a usable http(s) URL');
    }
  }
  const code = normalizePairCode(trimmed);
  return code
    ? { ok: true, reference: { code } }
    : fail('it is not a pairing code (dash-separated letters and digits)');
}

/** The reference in what a human pasted, or null; never throws. */
export function parsePairingInput(input: string): PairingReference | null {
  const reading = readPairingInput(input);
  return reading.ok ? reading.reference : null;
}

export function normalizePairCode(input: string): string | null {
  const code = input.trim().toUpperCase();
  return PAIR_CODE_PATTERN.test(code) ? code : null;
}
