/**
 * The one error type the core hands to its callers. Every failure — a protocol error from the
 * relay, a proxy's HTML page, a refused connection, a bad argument — becomes a NexusError with
 * a stable code and a hint saying what to do next. Nothing raw (undici errors, stacks) escapes.
 */
import { E2eError } from '../protocol/e2e/index.js';
import {
  isProtocolErrorCode,
  PROTOCOL_ERRORS,
  type ProtocolErrorCode,
  SecretInMessageError,
} from '../protocol/index.js';

/** Why a relay could not be reached, as far as the connection attempt tells. */
export type NetworkCause =
  | 'dns'
  | 'refused'
  | 'tls'
  | 'timeout'
  | 'unreachable'
  | 'reset'
  | 'other';

/** The ways out of an unreachable relay, for the error hint and for `doctor`. */
export const UNREACHABLE_HINTS = [
  'Check the network and the relay URL (`nexus-messaging-mcp config` shows which one is used and why).',
  'Use another relay: set NEXUS_URL or pass --url URL, or save one with `nexus-messaging-mcp set-url URL`.',
  'Run a relay on this machine with `nexus-messaging-mcp relay` (then use http://127.0.0.1:8787).',
] as const;

const CLIENT_ERRORS = {
  non_json_response:
    'The server did not answer with JSON (a proxy or captive portal?): check the server URL.',
  protocol_error:
    'The relay answered outside the protocol (a field is missing or invalid): nothing was stored; check that the URL points at a NexusMessaging relay, or use another relay.',
  response_too_large:
    'The relay sent more data than this client reads (NEXUS_MAX_RESPONSE_BYTES, default 8 MiB): nothing was stored; check the relay URL, or raise the limit if the relay is trusted.',
  http_error:
    'The server answered with an error this client does not know: check the server URL, or try again later.',
  network_error: `The relay could not be reached. Tell the user what happened and the ways out: ${UNREACHABLE_HINTS.join(' ')}`,
  timeout:
    'The relay did not answer in time: try again; if it persists, check the relay or raise NEXUS_HTTP_TIMEOUT_MS.',
  aborted: 'The operation was cancelled before it finished; nothing was committed.',
  unknown_session:
    'No local session matches: call list_sessions to see the sessions this agent is in.',
  ambiguous_session: 'Several local sessions match: use a longer id prefix or the alias.',
  invalid_argument: 'An argument is not valid: fix it and try again.',
  invalid_pairing_input:
    'That is neither a pairing code (like PEARL-FOCAL-S5SJV) nor a pairing link (like https://messaging.md/p/PEARL-FOCAL-S5SJV).',
  alias_taken:
    'Another local session already has that alias: choose another one, or clear it there first.',
  json_not_supported:
    'This relay accepts text messages only: send the payload as text, or allow folding it into the text.',
  creator_cannot_leave:
    'The creator cannot leave on the relay. To drop the session from this install, call leave_session with forget: true (it then ends on the relay when its TTL runs out without activity); to keep it alive instead, call renew_session.',
  store_busy:
    'Another nexus process held the session store for too long: try again; if it persists, see which process holds the lock named above.',
  session_expired: 'The session expired on its relay: tell the human, and create a new session.',
  store_error:
    'The local session store could not be read or written: check the permissions of its directory.',
  request_budget:
    "This server held back requests to keep within the relay's rate limit: call again after the time given.",
  secret_in_message:
    'Remove the key or link from the message and send again; share a link only through the human, never through a session.',
  e2e_key_missing:
    'This session is end-to-end encrypted and its key is missing: ask the human for the full link (with the part after #) and claim or join with it.',
  invalid_e2e_link:
    'Copy the whole link again, exactly as it was shared, including everything after #.',
  unsupported_e2e_version:
    'Update nexus-messaging-mcp, or ask the other side for a version 1 link.',
  plaintext_too_large: 'Split it into smaller messages.',
} as const;

export type ClientErrorCode = keyof typeof CLIENT_ERRORS;
/** Every code a NexusError can carry: a typo in `isNexusError(e, '…')` does not compile. */
export type NexusErrorCode = ProtocolErrorCode | ClientErrorCode;

export interface NexusErrorInit {
  code: NexusErrorCode;
  message: string;
  status?: number;
  hint?: string;
  requestId?: string;
  retryable?: boolean;
  retryAfterMs?: number;
  details?: unknown[];
  /** True when the request provably never reached the server (a connect failure). */
  notSent?: boolean;
  /** For a relay that could not be reached: why, as far as the connection attempt tells. */
  network?: NetworkCause;
}

export class NexusError extends Error {
  override readonly name = 'NexusError';
  readonly code: NexusErrorCode;
  readonly status: number | undefined;
  readonly hint: string;
  readonly requestId: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: unknown[] | undefined;
  readonly notSent: boolean;
  readonly network: NetworkCause | undefined;

  constructor(init: NexusErrorInit) {
    super(init.message);
    this.code = init.code;
    this.status = init.status;
    this.hint = init.hint ?? hintFor(init.code);
    this.requestId = init.requestId;
    this.retryable = init.retryable ?? false;
    this.retryAfterMs = init.retryAfterMs;
    this.details = init.details;
    this.notSent = init.notSent ?? false;
    this.network = init.network;
  }

  /** A plain object for JSON output: no stack, nothing that was not meant for the caller. */
  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      ...(this.status !== undefined && { status: this.status }),
      ...(this.requestId !== undefined && { requestId: this.requestId }),
      retryable: this.retryable,
    };
  }
}

export function hintFor(code: NexusErrorCode): string {
  if (isProtocolErrorCode(code)) return PROTOCOL_ERRORS[code].hint;
  return CLIENT_ERRORS[code];
}

export function isClientErrorCode(code: string): code is ClientErrorCode {
  return Object.hasOwn(CLIENT_ERRORS, code);
}

export function clientError(
  code: ClientErrorCode,
  message: string,
  extra?: Partial<NexusErrorInit>,
) {
  return new NexusError({ code, message, ...extra });
}

export function isNexusError(error: unknown, code?: NexusErrorCode): error is NexusError {
  return error instanceof NexusError && (code === undefined || error.code === code);
}

/** Anything thrown becomes a NexusError; unknown errors keep only their message. */
export function toNexusError(error: unknown): NexusError {
  if (error instanceof NexusError) return error;
  const usage = fromUsageError(error);
  if (usage) return usage;
  if (error instanceof Error && error.name === 'AbortError') {
    return clientError('aborted', 'The operation was cancelled.');
  }
  const message = error instanceof Error ? error.message : String(error);
  return new NexusError({
    code: 'internal_error',
    message,
    hint: 'An unexpected error occurred in the client: please report it.',
  });
}

/**
 * The protocol layer's own refusals (a secret in a message, a bad #e2e= key, a payload too large
 * to encrypt) as NexusErrors, with their codes and hints; undefined for anything else.
 */
export function fromUsageError(error: unknown): NexusError | undefined {
  if (error instanceof SecretInMessageError) {
    return clientError('secret_in_message', error.message, { hint: error.hint });
  }
  if (error instanceof E2eError) {
    const code = error.code === 'invalid_payload' ? 'invalid_argument' : error.code;
    return clientError(code, error.message, { hint: error.hint });
  }
  return undefined;
}
