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

/**
 * Reads what a human pasted: a bare code in any case (`pearl-focal-s5sjv`), a link
 * `<base>/p/<CODE>`, or `<base>/v1/pair/<CODE>/skill`. Returns null when it is neither.
 */
export function parsePairingInput(input: string): PairingReference | null {
  const trimmed = input.trim().replace(/^<|>$/g, '');
  if (/^https?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      return null;
    }
    const match =
      /^(.*)\/p\/([^/]+)\/?$/.exec(url.pathname) ??
      /^(.*)\/v1\/pair\/([^/]+)(?:\/[a-z]+)?\/?$/.exec(url.pathname);
    if (!match) return null;
    const code = normalizePairCode(decodeURIComponent(match[2] ?? ''));
    if (!code) return null;
    url.pathname = match[1] ?? '';
    url.search = '';
    url.hash = '';
    return { code, server: normalizeServerUrl(url.toString()) };
  }
  const code = normalizePairCode(trimmed);
  return code ? { code } : null;
}

export function normalizePairCode(input: string): string | null {
  const code = input.trim().toUpperCase();
  return PAIR_CODE_PATTERN.test(code) ? code : null;
}
