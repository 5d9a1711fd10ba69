/**
 * zod schemas for every request and response body of the protocol (PROTOCOL.md).
 *
 * Responses are parsed leniently: unknown fields are dropped, both documented variants of
 * leave and renew are accepted, timestamps may be ISO strings or epoch numbers and cursors
 * strings or numbers. Requests are what our relay validates and our client sends.
 */
import { z } from 'zod';
import { AGENT_ID_PATTERN, CURSOR_PATTERN, isSessionId } from './formats.js';
import { guardJson, jsonExcerpt, MAX_JSON_DEPTH, MAX_JSON_NODES } from './guarded-json.js';
import { cut, oneLine, showId } from './untrusted-text.js';

export const DEFAULT_TTL_SECONDS = 3660;
export const MIN_TTL_SECONDS = 60;
/** The reference relay's default `MAX_TTL_SECONDS`; relays clamp longer TTLs to theirs. */
export const MAX_TTL_SECONDS = 86_400;
/** Long-poll extension: the most a relay holds a poll open. */
export const MAX_WAIT_MS = 30_000;

export const AgentId = z
  .string()
  .regex(AGENT_ID_PATTERN, 'letters, digits, - and _ only, at most 128 characters');
export const SessionId = z.string().refine(isSessionId, 'not a session id');
/** A cursor as relays send it, checked but not converted (see `Cursor`). */
const WireCursor = z.union([z.string().regex(CURSOR_PATTERN), z.number().int().nonnegative()]);
export const Cursor = WireCursor.transform((value) => String(value));

/** A point in time as relays send it, checked but not converted (see `Timestamp`). */
const WireTimestamp = z.union([z.string(), z.number()]);

function toTimestamp(value: string | number): string {
  // Relay-written: shown to the model, so bounded and on one line.
  if (typeof value === 'string') return cut(oneLine(value), 64);
  const ms = value < 1e12 ? value * 1000 : value;
  return new Date(ms).toISOString();
}

/** A point in time as ISO 8601, whatever the relay sent (ISO string, epoch s or ms). */
export const Timestamp = WireTimestamp.transform(toTimestamp);

export const Ttl = z.number().int().min(MIN_TTL_SECONDS, `ttl must be at least ${MIN_TTL_SECONDS}`);

// ---- requests -------------------------------------------------------------------------------

export const CreateSessionRequest = z.object({
  ttl: Ttl.optional(),
  maxAgents: z.number().int().min(1).optional(),
  greeting: z.string().max(4000).optional(),
  creatorAgentId: AgentId.optional(),
});
export type CreateSessionRequest = z.infer<typeof CreateSessionRequest>;

export const RenewRequest = z.object({ ttl: Ttl.optional() });
export type RenewRequest = z.infer<typeof RenewRequest>;

export const PairRequest = z.object({ sessionId: z.string().min(1) });
export type PairRequest = z.infer<typeof PairRequest>;

export const SendRequest = z
  .object({ text: z.string().optional(), json: z.json().optional() })
  .refine((body) => (body.text !== undefined && body.text.length > 0) || body.json !== undefined, {
    message: 'a message needs a non-empty text or a json payload',
    path: ['text'],
  });
export type SendRequest = z.infer<typeof SendRequest>;

// ---- responses ------------------------------------------------------------------------------

export const ErrorBody = z.object({
  error: z.string(),
  message: z.string().optional(),
  details: z.array(z.unknown()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** A short word a relay writes and a human or model may read (a state, a version): one line. */
export const RelayWord = z.string().transform((value) => cut(oneLine(value), 64));

export const SessionState = RelayWord;

export const CreateSessionResponse = z.object({
  sessionId: SessionId,
  ttl: z.number(),
  maxAgents: z.number(),
  state: SessionState,
  creatorAgentId: z.string().nullish(),
  sessionKey: z.string().optional(),
  expiresAt: Timestamp.optional(),
});
export type CreateSessionResponse = z.infer<typeof CreateSessionResponse>;

export const SessionStatusResponse = z.object({
  sessionId: z.string().min(1),
  state: SessionState,
  agents: z.array(z.string()).default([]),
  ttl: z.number(),
  maxAgents: z.number(),
  creatorAgentId: z.string().nullish(),
  expiresAt: Timestamp.optional(),
});
export type SessionStatusResponse = z.infer<typeof SessionStatusResponse>;

export const JoinResponse = z.object({
  status: z.string().optional(),
  agentsOnline: z.number().optional(),
  sessionKey: z.string().min(1),
  greeting: z.string().nullish(),
});
export type JoinResponse = z.infer<typeof JoinResponse>;

/** Draft: `{status: "removed"}`; live: `{ok: true, sessionId, agentId, message}`. */
export const LeaveResponse = z.object({
  ok: z.boolean().optional(),
  status: z.string().optional(),
  sessionId: z.string().optional(),
  agentId: z.string().optional(),
  message: z.string().optional(),
});
export type LeaveResponse = z.infer<typeof LeaveResponse>;

/** Draft: `{ttl, expiresAt}`; live: `{sessionId, state, ttl, expiresAt, agents}`. */
export const RenewResponse = z.object({
  ttl: z.number(),
  expiresAt: Timestamp,
  sessionId: z.string().optional(),
  state: SessionState.optional(),
  agents: z.array(z.string()).optional(),
});
export type RenewResponse = z.infer<typeof RenewResponse>;

// The two answers of every call, send and poll, are checked by plain object schemas (no field
// transforms or defaults, so zod runs them on its compiled path) and converted afterwards by
// the plain functions here, in one pass, to the same values the lenient schemas above give.

const WireSend = z.object({
  id: z.string(),
  cursor: WireCursor,
  expiresAt: WireTimestamp.optional(),
  /** Our relay: how many secrets were replaced with `[REDACTED:<type>]`. */
  redacted: z.number().optional(),
});

export interface SendResponse {
  id: string;
  cursor: string;
  expiresAt?: string;
  redacted?: number;
}

export const SendResponse = WireSend.transform((wire): SendResponse => {
  const out: SendResponse = { id: wire.id, cursor: String(wire.cursor) };
  if (wire.expiresAt !== undefined) out.expiresAt = toTimestamp(wire.expiresAt);
  if (wire.redacted !== undefined) out.redacted = wire.redacted;
  return out;
});

const WireMessage = z.object({
  id: z.string(),
  agentId: z.string(),
  text: z.string().nullish(),
  // Checked by guardJson, never by a recursive schema: a 4,000-level payload must not overflow.
  json: z.unknown().optional(),
  cursor: WireCursor,
  verified: z.boolean().optional(),
  type: z.string().optional(),
  createdAt: WireTimestamp.optional(),
  expiresAt: WireTimestamp.optional(),
});
type WireMessage = z.infer<typeof WireMessage>;

/** Where a message from a relay names a sender that is no agent id. */
export const INVALID_SENDER = '(invalid agent id)';
const EXCERPT_CHARS = 2_000;

const JSON_PROBLEMS = {
  too_deep: `nests deeper than ${MAX_JSON_DEPTH} levels`,
  too_large: `holds more than ${MAX_JSON_NODES} values`,
  not_json: 'is not JSON',
} as const;

/** A decoded message: the wire's fields, with the text, cursor, flags and times settled. */
export type Message = Omit<
  WireMessage,
  'text' | 'cursor' | 'verified' | 'createdAt' | 'expiresAt'
> & {
  text: string;
  cursor: string;
  verified: boolean;
  createdAt?: string;
  expiresAt?: string;
  malformed?: true;
};

/**
 * A message as the client uses it, decided once, at decode time, so every reader (poll, wait,
 * resource) gets the same outcome. What cannot be represented is delivered, not dropped: a
 * payload too deep or too large is folded into the text as an excerpt, a sender that is no
 * agent id is named escaped in the text, and either marks the message `malformed`, so its
 * cursor still moves on. `type: "greeting"` counts only at cursor 0, where the greeting lives.
 */
function toMessage(wire: WireMessage): Message {
  const rawAgentId = wire.agentId;
  const cursor = String(wire.cursor);
  let text = wire.text ?? '';
  let notes: string[] | undefined;
  let json: unknown;
  if (wire.json !== undefined) {
    const guarded = guardJson(wire.json);
    if (guarded.ok) json = guarded.value;
    else
      notes = [
        `[malformed: the json payload ${JSON_PROBLEMS[guarded.reason]}; shown as text] ${jsonExcerpt(wire.json, EXCERPT_CHARS)}`,
      ];
  }
  const validSender = AGENT_ID_PATTERN.test(rawAgentId);
  if (!validSender) {
    notes ??= [];
    notes.unshift(
      `[protocol error: the relay gave the sender id ${showId(rawAgentId)}, which is not an agent id]`,
    );
  }
  if (notes !== undefined) text = (text ? [...notes, text] : notes).join('\n');
  // Keys in the order they always had (JSON of a message reads as before): id, text, cursor,
  // verified, the times, agentId, then what only some messages carry. agentId follows below.
  const out = { id: wire.id, text, cursor, verified: validSender && (wire.verified ?? false) };
  const message = out as Message;
  if (wire.createdAt !== undefined) message.createdAt = toTimestamp(wire.createdAt);
  if (wire.expiresAt !== undefined) message.expiresAt = toTimestamp(wire.expiresAt);
  message.agentId = validSender ? rawAgentId : INVALID_SENDER;
  if (json !== undefined) message.json = json;
  if (wire.type !== undefined && (wire.type !== 'greeting' || cursor === '0'))
    message.type = wire.type;
  if (notes !== undefined) message.malformed = true;
  return message;
}

export const Message = WireMessage.transform(toMessage);

const WireMember = z.object({ agentId: z.string(), lastSeenAt: WireTimestamp.optional() });
type WireMember = z.infer<typeof WireMember>;

export interface Member {
  agentId: string;
  lastSeenAt?: string;
}

function toMember(wire: WireMember): Member {
  const out: Member = { agentId: wire.agentId };
  if (wire.lastSeenAt !== undefined) out.lastSeenAt = toTimestamp(wire.lastSeenAt);
  return out;
}

export const Member = WireMember.transform(toMember);

export interface PollResponse {
  messages: Message[];
  nextCursor?: string;
  members?: Member[];
}

export const PollResponse = z
  .object({
    messages: z.array(WireMessage),
    nextCursor: WireCursor.optional(),
    members: z.array(WireMember).optional(),
  })
  .transform((wire): PollResponse => {
    const out: PollResponse = { messages: wire.messages.map(toMessage) };
    if (wire.nextCursor !== undefined) out.nextCursor = String(wire.nextCursor);
    if (wire.members !== undefined) out.members = wire.members.map(toMember);
    return out;
  });

export const PairResponse = z.object({
  code: z.string().min(1),
  url: z.string().optional(),
  expiresAt: Timestamp.optional(),
});
export type PairResponse = z.infer<typeof PairResponse>;

export const ClaimResponse = z.object({
  sessionId: SessionId,
  status: z.string().optional(),
  sessionKey: z.string().min(1),
  greeting: z.string().nullish(),
});
export type ClaimResponse = z.infer<typeof ClaimResponse>;

export const PairState = z.enum(['pending', 'claimed', 'expired']);
export type PairState = z.infer<typeof PairState>;

export const PairStatusResponse = z.object({
  state: PairState,
  expiresAt: Timestamp.optional(),
});
export type PairStatusResponse = z.infer<typeof PairStatusResponse>;

export const StatsResponse = z.object({
  activeSessions: z.number(),
  totalAgents: z.number(),
  totalMessages: z.number(),
  uptime: z.number(),
});
export type StatsResponse = z.infer<typeof StatsResponse>;

/** Missing or unreadable capabilities mean a text-only relay without long-poll. */
export const HealthResponse = z.object({
  status: z.string().optional(),
  version: RelayWord.optional(),
  uptime: z.number().optional(),
  capabilities: z
    .object({
      messageFormat: z.array(RelayWord).catch(['text']).default(['text']),
      longPoll: z.boolean().catch(false).default(false),
    })
    .catch({ messageFormat: ['text'], longPoll: false })
    .default({ messageFormat: ['text'], longPoll: false }),
});
export type HealthResponse = z.infer<typeof HealthResponse>;
