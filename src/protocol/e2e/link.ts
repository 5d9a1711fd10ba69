/**
 * The key's place in a pairing link: `<pairing url>#e2e=1.<base64url(S), 43 chars>`. Fragments
 * never travel over HTTP, and the client splits this one off before any request, so the key
 * reaches the peer who holds the link and never a relay.
 */
import { E2eError } from './errors.js';
import { E2E_SECRET_BYTES, E2eKey } from './keys.js';

const FRAGMENT_PARAM = 'e2e';
const KEY_CHARS = 43;

const invalidLink = (why: string): E2eError =>
  new E2eError(
    'invalid_e2e_link',
    `The link's #e2e= part is not a valid key (${why}).`,
    'Copy the whole link again, exactly as it was shared, including everything after #.',
  );

/** `e2e=1.<base64url(S)>`, without the `#`. */
export function formatE2eFragment(key: E2eKey): string {
  return `${FRAGMENT_PARAM}=1.${key.secret().toString('base64url')}`;
}

/** The link with the key attached; any fragment the link had is replaced. */
export function withE2eFragment(link: string, key: E2eKey): string {
  const hash = link.indexOf('#');
  return `${hash < 0 ? link : link.slice(0, hash)}#${formatE2eFragment(key)}`;
}

export interface SplitLink {
  /** What may be sent to or parsed for a relay: the input without its fragment. */
  link: string;
  /** Present when the fragment carried a valid `e2e=1.…` key. */
  key?: E2eKey;
}

/**
 * Splits a pasted link (or a bare code) into the part a relay may see and the key in its
 * fragment. Throws `E2eError` when the fragment names `e2e` but does not hold a valid v1 key:
 * silently dropping it would make an encrypted session look like a plain one.
 */
export function splitE2eLink(input: string): SplitLink {
  const trimmed = input.trim().replace(/^<|>$/g, '');
  let rest: string;
  let fragment: string;
  if (/^https?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      return { link: trimmed.split('#', 1)[0] ?? '' };
    }
    fragment = url.hash.slice(1);
    url.hash = '';
    rest = url.toString();
  } else {
    const hash = trimmed.indexOf('#');
    rest = hash < 0 ? trimmed : trimmed.slice(0, hash);
    fragment = hash < 0 ? '' : trimmed.slice(hash + 1);
  }
  const key = parseE2eFragment(fragment);
  return key ? { link: rest, key } : { link: rest };
}

/** Reads `e2e=1.<key>` among `&`-separated fragment parameters; undefined when there is none. */
export function parseE2eFragment(fragment: string): E2eKey | undefined {
  let decoded = fragment.replace(/^#/, '');
  try {
    // Chat apps sometimes percent-encode the `=`.
    decoded = decodeURIComponent(decoded);
  } catch {
    throw invalidLink('bad percent-encoding');
  }
  const values = decoded
    .split('&')
    .filter((part) => part.startsWith(`${FRAGMENT_PARAM}=`))
    .map((part) => part.slice(FRAGMENT_PARAM.length + 1));
  if (values.length === 0) return undefined;
  if (values.length > 1) throw invalidLink('more than one key');
  const value = values[0] ?? '';
  const dot = value.indexOf('.');
  const version = dot < 0 ? value : value.slice(0, dot);
  if (version !== '1') {
    throw new E2eError(
      'unsupported_e2e_version',
      `The link uses end-to-end encryption version ${JSON.stringify(version.slice(0, 8))}, which this client does not support.`,
      'Update nexus-messaging-mcp, or ask the other side for a version 1 link.',
    );
  }
  // Prose around a pasted link ends it with a full stop or a bracket; base64url has neither.
  const encoded = value.slice(dot + 1).replace(/[.,;:!?)\]}>'"]+$/, '');
  if (!/^[A-Za-z0-9_-]+$/.test(encoded) || encoded.length !== KEY_CHARS) {
    throw invalidLink(`expected ${KEY_CHARS} base64url characters`);
  }
  const secret = Buffer.from(encoded, 'base64url');
  // 43 characters hold 258 bits: the last 2 must be zero, so exactly one spelling is valid.
  if (secret.length !== E2E_SECRET_BYTES || secret.toString('base64url') !== encoded) {
    throw invalidLink('not a canonical 32-byte key');
  }
  return E2eKey.fromSecret(secret);
}
