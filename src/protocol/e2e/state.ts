/**
 * What a client persists per encrypted session, beside the session key in its 0600 store, and
 * what it shows about it. Replay windows are stored as a list, not an object keyed by agent id,
 * so an agent id such as `__proto__` survives any JSON or schema round trip.
 */
import { z } from 'zod';
import { isCursor } from '../formats.js';
import { type GuardNote, MAX_GUARD_NOTES, type ReplayGuard } from './guard.js';
import { E2eKey } from './keys.js';
import { REPLAY_WINDOW } from './replay.js';

const isBitmap = (seen: string): boolean => {
  const bytes = Buffer.from(seen, 'base64');
  return bytes.length === REPLAY_WINDOW / 8 && bytes.toString('base64') === seen;
};

export const E2eSessionRecord = z.object({
  version: z.literal(1),
  /** base64url(S); absent while the key is missing (the session was claimed by a bare code). */
  secret: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/)
    .optional(),
  /** The last `seq` this agent used in this session; the next send takes `seq + 1` under the store lock. */
  seq: z.number().int().nonnegative(),
  /** The replay guard (guard.ts), with the per-sender windows as a list. */
  guard: z.object({
    through: z.string().refine(isCursor),
    senders: z.array(
      z.object({
        agentId: z.string(),
        highest: z.number().int().positive(),
        seen: z.string().refine(isBitmap, 'a base64 bitmap of the replay window'),
      }),
    ),
    notes: z
      .array(
        z.tuple([
          z.string().refine(isCursor),
          z.union([
            z.object({ replayed: z.literal(true) }),
            z.object({ replayed: z.literal(false), gapBefore: z.number().int().positive() }),
          ]),
        ]),
      )
      .max(MAX_GUARD_NOTES),
  }),
  /** Agents whose hello (or any envelope) opened under our key. */
  confirmedMembers: z.array(z.string()),
  /**
   * The `key_id` (hex) seen in envelopes while the key was missing: a later claim with the full
   * link finds this session by it without asking the relay.
   */
  seenKeyId: z
    .string()
    .regex(/^[0-9a-f]{8}$/)
    .optional(),
});
export type E2eSessionRecord = z.infer<typeof E2eSessionRecord>;

/** A fresh record: for the creator (with a new key), or for a member who has the link or not. */
export function newE2eRecord(key: E2eKey | undefined): E2eSessionRecord {
  return {
    version: 1,
    ...(key && { secret: key.secret().toString('base64url') }),
    seq: 0,
    guard: { through: '0', senders: [], notes: [] },
    confirmedMembers: [],
  };
}

/** The key, or undefined while it is missing. */
export function recordKey(record: E2eSessionRecord): E2eKey | undefined {
  return record.secret === undefined
    ? undefined
    : E2eKey.fromSecret(Buffer.from(record.secret, 'base64url'));
}

/** Attaches a key that arrived later (claim or join with the full link). */
export function withKey(record: E2eSessionRecord, key: E2eKey): E2eSessionRecord {
  const { seenKeyId: _seen, ...rest } = record;
  return { ...rest, secret: key.secret().toString('base64url') };
}

/** Notes the `key_id` of an envelope that could not be opened for want of the key. */
export function withSeenKeyId(record: E2eSessionRecord, keyId: string): E2eSessionRecord {
  return record.seenKeyId === keyId ? record : { ...record, seenKeyId: keyId };
}

/** True when `key` is the one this session's envelopes were sealed with, as far as seen. */
export function matchesSeenKeyId(record: E2eSessionRecord, key: E2eKey): boolean {
  return record.seenKeyId === key.keyId().toString('hex');
}

/** Takes the next `seq`: call inside the store's locked update, and persist the returned record. */
export function takeSeq(record: E2eSessionRecord): { record: E2eSessionRecord; seq: number } {
  const seq = record.seq + 1;
  return { record: { ...record, seq }, seq };
}

export function guardOf(record: E2eSessionRecord): ReplayGuard {
  const { through, senders, notes } = record.guard;
  return {
    through,
    // fromEntries defines own properties, so an agent id "__proto__" stays data.
    senders: Object.fromEntries(
      senders.map(({ agentId, highest, seen }) => [agentId, { highest, seen }]),
    ),
    notes: notes.map(([cursor, note]): [string, GuardNote] => [cursor, { ...note }]),
  };
}

export function withGuard(record: E2eSessionRecord, guard: ReplayGuard): E2eSessionRecord {
  return {
    ...record,
    guard: {
      through: guard.through,
      senders: Object.entries(guard.senders).map(([agentId, window]) => ({ agentId, ...window })),
      notes: guard.notes,
    },
  };
}

export function withConfirmedMember(record: E2eSessionRecord, agentId: string): E2eSessionRecord {
  return record.confirmedMembers.includes(agentId)
    ? record
    : { ...record, confirmedMembers: [...record.confirmedMembers, agentId] };
}

/** `e2e` in get_session_status and list_sessions. Never the key. */
export interface E2eStatus {
  enabled: true;
  version: 1;
  key: 'present' | 'missing';
  confirmed_members: string[];
}

export function e2eStatus(record: E2eSessionRecord): E2eStatus {
  return {
    enabled: true,
    version: 1,
    key: record.secret === undefined ? 'missing' : 'present',
    confirmed_members: [...record.confirmedMembers],
  };
}

/**
 * The relay's `greeting` for an encrypted session: a fixed notice, since the real greeting
 * travels as the first envelope (kind 2) once the session id exists.
 */
export const E2E_NOTICE_GREETING =
  'This NexusMessaging session is end-to-end encrypted (nexus-e2e/1): messages are nxe1. envelopes ' +
  'the relay cannot read. Reading and writing needs the full pairing link, including the part after #, ' +
  'and a client that supports it, e.g. `npx nexus-messaging-mcp` (format: docs/e2e-v1.md in its repository).';

/** Shown beside a plaintext message in an encrypted session. */
export const PLAINTEXT_IN_E2E_WARNING =
  'This message was not encrypted: the relay (and anyone who can read it) could read it.';
