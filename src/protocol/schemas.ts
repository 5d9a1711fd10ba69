/**
 * zod schemas for every request and response body of the protocol (PROTOCOL.md).
 *
 * Responses are parsed leniently: unknown fields are dropped, both documented variants of
 * leave and renew are accepted, timestamps may be ISO strings or epoch numbers and cursors
 * strings or numbers. Requests are what our relay validates and our client sends.
 */
import { z } from 'zod';
import { AGENT_ID_PATTERN, CURSOR_PATTERN } from './formats.js';

export const DEFAULT_TTL_SECONDS = 3660;
export const MIN_TTL_SECONDS = 60;
/** Long-poll extension: the most a relay holds a poll open. */
export const MAX_WAIT_MS = 30_000;

export const AgentId = z
  .string()
  .regex(AGENT_ID_PATTERN, 'letters, digits, - and _ only, at most 128 characters');
export const Cursor = z
  .union([z.string().regex(CURSOR_PATTERN), z.number().int().nonnegative()])
  .transform((value) => String(value));

/** A point in time as ISO 8601, whatever the relay sent (ISO string, epoch s or ms). */
export const Timestamp = z.union([z.string(), z.number()]).transform((value) => {
  if (typeof value === 'string') return value;
  const ms = value < 1e12 ? value * 1000 : value;
  return new Date(ms).toISOString();
});

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

export const SessionState = z.string();

export const CreateSessionResponse = z.object({
  sessionId: z.string().min(1),
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

export const SendResponse = z.object({
  id: z.string(),
  cursor: Cursor,
  expiresAt: Timestamp.optional(),
  /** Our relay: how many secrets were replaced with `[REDACTED:<type>]`. */
  redacted: z.number().optional(),
});
export type SendResponse = z.infer<typeof SendResponse>;

export const Message = z.object({
  id: z.string(),
  agentId: z.string(),
  text: z
    .string()
    .nullish()
    .transform((value) => value ?? ''),
  json: z.json().optional(),
  cursor: Cursor,
  verified: z.boolean().default(false),
  type: z.string().optional(),
  createdAt: Timestamp.optional(),
  expiresAt: Timestamp.optional(),
});
export type Message = z.infer<typeof Message>;

export const Member = z.object({ agentId: z.string(), lastSeenAt: Timestamp.optional() });
export type Member = z.infer<typeof Member>;

export const PollResponse = z.object({
  messages: z.array(Message),
  nextCursor: Cursor.optional(),
  members: z.array(Member).optional(),
});
export type PollResponse = z.infer<typeof PollResponse>;

export const PairResponse = z.object({
  code: z.string().min(1),
  url: z.string().optional(),
  expiresAt: Timestamp.optional(),
});
export type PairResponse = z.infer<typeof PairResponse>;

export const ClaimResponse = z.object({
  sessionId: z.string().min(1),
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
  version: z.string().optional(),
  uptime: z.number().optional(),
  capabilities: z
    .object({
      messageFormat: z.array(z.string()).catch(['text']).default(['text']),
      longPoll: z.boolean().catch(false).default(false),
    })
    .catch({ messageFormat: ['text'], longPoll: false })
    .default({ messageFormat: ['text'], longPoll: false }),
});
export type HealthResponse = z.infer<typeof HealthResponse>;
