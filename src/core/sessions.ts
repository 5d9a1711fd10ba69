/** How sessions are named and found: short ids, aliases, references, and the local view. */
import { type E2eStatus, e2eStatus } from '../protocol/e2e/index.js';
import { cutReference } from '../protocol/index.js';
import { clientError } from './errors.js';
import type { StoredSession } from './store.js';

const SHORT_ID_LENGTH = 12;
const MIN_PREFIX_LENGTH = 8;

const ALIAS_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** An alias that looks like an id prefix would make references ambiguous. */
const HEX_LIKE = /^[0-9a-f]{8,}$/i;

export function shortId(sessionId: string): string {
  return sessionId.slice(0, SHORT_ID_LENGTH);
}

/** What a session is called in anything a model or a log sees: its alias, else its short id. */
export function sessionLabel(session: Pick<StoredSession, 'sessionId' | 'alias'>): string {
  return session.alias ?? shortId(session.sessionId);
}

export function validateAlias(alias: string): string {
  const trimmed = alias.trim();
  if (!ALIAS_PATTERN.test(trimmed)) {
    throw clientError(
      'invalid_argument',
      `alias must be 1-64 characters: letters, digits, ".", "_" and "-", starting with a letter or digit (got ${cutReference(alias)}).`,
    );
  }
  if (HEX_LIKE.test(trimmed)) {
    throw clientError(
      'invalid_argument',
      'An alias may not look like a session id (8 or more hex characters): add a letter that is not a-f.',
    );
  }
  return trimmed;
}

/** Local knowledge of a session, without its key. */
export interface SessionInfo {
  sessionId: string;
  shortId: string;
  label: string;
  alias?: string;
  server: string;
  agentId: string;
  role: StoredSession['role'];
  cursor: string;
  createdAt: string;
  lastUsedAt: string;
  creatorAgentId?: string;
  expired: boolean;
  expiredAt?: string;
  lastSeen?: StoredSession['lastSeen'];
  /** End-to-end encryption as shown: whether the key is here, never the key. */
  e2e?: E2eStatus;
}

export function toSessionInfo(session: StoredSession): SessionInfo {
  const { sessionKey: _key, e2e, ...rest } = session;
  return {
    ...rest,
    ...(e2e && { e2e: e2eStatus(e2e) }),
    shortId: shortId(session.sessionId),
    label: sessionLabel(session),
    expired: session.expiredAt !== undefined,
  };
}

/**
 * Resolves what a caller typed: the exact full id, then an alias, then an unambiguous id
 * prefix of at least eight characters. Failures list the candidates by label.
 */
export function resolveReference(
  sessions: readonly StoredSession[],
  reference: string,
): StoredSession {
  const ref = reference.trim();
  if (!ref)
    throw clientError(
      'invalid_argument',
      'A session reference (alias, short id or full id) is required.',
    );
  const exact = sessions.find((session) => session.sessionId === ref);
  if (exact) return exact;
  const byAlias = sessions.find((session) => session.alias === ref);
  if (byAlias) return byAlias;
  if (ref.length >= MIN_PREFIX_LENGTH) {
    const lower = ref.toLowerCase();
    const matches = sessions.filter((session) => session.sessionId.toLowerCase().startsWith(lower));
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length > 1) {
      throw clientError(
        'ambiguous_session',
        `"${ref}" matches ${matches.length} sessions: ${matches.map(describe).join(', ')}.`,
      );
    }
  }
  const known = sessions.length
    ? ` Known sessions: ${sessions.slice(0, 10).map(describe).join(', ')}${sessions.length > 10 ? ', …' : ''}.`
    : ' There are no local sessions yet: create one, join one, or claim a pairing code.';
  const tooShort =
    ref.length < MIN_PREFIX_LENGTH && /^[0-9a-f]+$/i.test(ref)
      ? ' Id prefixes need at least 8 characters.'
      : '';
  throw clientError(
    'unknown_session',
    `No local session matches ${cutReference(ref)}.${tooShort}${known}`,
  );
}

function describe(session: StoredSession): string {
  return session.alias
    ? `${session.alias} (${shortId(session.sessionId)})`
    : shortId(session.sessionId);
}
