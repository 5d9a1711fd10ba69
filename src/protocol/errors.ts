/**
 * Error codes of the NexusMessaging wire protocol (PROTOCOL.md, "Errors"), with the HTTP status
 * the relay answers them with and a one-line hint telling the caller what to do next.
 */
export const PROTOCOL_ERRORS = {
  invalid_body: {
    status: 400,
    hint: 'The request body was not valid JSON; send a JSON object with Content-Type: application/json.',
  },
  invalid_request: {
    status: 400,
    hint: 'A field failed validation (named above, with its rule and the value sent): fix it and send again.',
  },
  missing_agent_id: {
    status: 400,
    hint: 'Send the X-Agent-Id header (letters, digits, - and _, at most 128 characters).',
  },
  missing_session_key: {
    status: 401,
    hint: 'Leaving needs the X-Session-Key this agent received when it joined.',
  },
  invalid_session_key: {
    status: 401,
    hint: 'The session key does not match: join again under a different agent id (join_session with the session alias and agent_id; the same id answers agent_id_taken while the old membership lasts).',
  },
  forbidden: {
    status: 403,
    hint: 'This agent may not do that here: it is not a member of the session, or it is the creator (who cannot leave).',
  },
  agent_not_in_session: {
    status: 403,
    hint: 'This agent is not a member of the session: join again (join_session takes the session alias), or claim a new pairing code (the session may have expired).',
  },
  session_not_found: {
    status: 404,
    hint: 'The session expired or never existed: tell the human, and create a new session.',
  },
  code_not_found: {
    status: 404,
    hint: 'No such pairing code: check it for typos, or ask the other side for a new one.',
  },
  code_expired_or_used: {
    status: 404,
    hint: 'The pairing code expired or was already claimed: ask the other side for a new code.',
  },
  agent_not_found: {
    status: 404,
    hint: 'That agent is not in the session (it may already have left).',
  },
  session_full: {
    status: 409,
    hint: 'The session is full: do not retry; a session with a larger maxAgents is needed.',
  },
  agent_id_taken: {
    status: 409,
    hint: 'Another agent in the session already uses this agent id: choose another agent id.',
  },
  message_too_large: {
    status: 413,
    hint: 'The message is larger than the relay accepts: split it into smaller messages.',
  },
  rate_limit_exceeded: {
    status: 429,
    hint: 'Too many requests: wait for the Retry-After interval, then try again.',
  },
  not_found: {
    status: 404,
    hint: 'No such endpoint on this relay: check the server URL and the protocol version.',
  },
  internal_error: {
    status: 500,
    hint: 'The relay failed: try again later, and report the X-Request-Id if it persists.',
  },
} as const satisfies Record<string, { status: number; hint: string }>;

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS;

export function isProtocolErrorCode(code: string): code is ProtocolErrorCode {
  return Object.hasOwn(PROTOCOL_ERRORS, code);
}
