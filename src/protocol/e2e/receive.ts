/**
 * One polled message through E2E v1: decide whether it is an envelope, open it, then check its
 * `seq` against the sender's replay window. The inbox calls this for every message of an
 * encrypted session and persists the returned replay state.
 */

import { type E2eKind, type E2ePayload, isEnvelopeText, openEnvelope } from './envelope.js';
import { E2E_DECRYPT_HINTS, type E2eDecryptError } from './errors.js';
import { guardMessage, type ReplayGuard } from './guard.js';
import type { E2eKey } from './keys.js';

export interface ReceiveInput {
  /** The body as polled. */
  body: { text: string; json?: unknown };
  /** The relay's cursor for the message. */
  cursor: string;
  sessionId: string;
  /** The relay's `agentId` for this message. */
  senderAgentId: string;
  key: E2eKey | undefined;
  guard: ReplayGuard;
}

export type Received =
  /** Not an envelope: the relay (and anyone on it) could read it. */
  | { encrypted: false }
  | {
      encrypted: true;
      decrypted: true;
      kind: E2eKind;
      seq: number;
      payload: E2ePayload;
      gapBefore?: number;
    }
  | { encrypted: true; decrypted: false; error: E2eDecryptError; placeholder: string };

/**
 * Decrypts one polled message. Call for every message of an encrypted session in cursor order,
 * re-reads included, and persist the returned guard (it changes only for messages past its
 * `through`).
 */
export function receiveMessage(input: ReceiveInput): { received: Received; guard: ReplayGuard } {
  const { body } = input;
  if (!isEnvelopeText(body.text)) return { received: { encrypted: false }, guard: input.guard };
  // Envelopes never carry a `json` field; one that does was not written by a v1 client.
  const opened =
    body.json === undefined
      ? openEnvelope({ ...input, text: body.text })
      : ({ ok: false, error: 'malformed' } as const);
  if (!opened.ok) return { received: failed(opened.error), guard: input.guard };
  const { guard, verdict } = guardMessage(input.guard, {
    cursor: input.cursor,
    sender: input.senderAgentId,
    seq: opened.seq,
  });
  if (verdict.replayed) return { received: failed('replayed'), guard };
  return {
    received: {
      encrypted: true,
      decrypted: true,
      kind: opened.kind,
      seq: opened.seq,
      payload: opened.payload,
      ...(verdict.gapBefore !== undefined && { gapBefore: verdict.gapBefore }),
    },
    guard,
  };
}

function failed(error: E2eDecryptError): Received {
  return { encrypted: true, decrypted: false, error, placeholder: e2ePlaceholder(error) };
}

/** The text shown instead of a message that could not be decrypted: never the envelope. */
export function e2ePlaceholder(error: E2eDecryptError): string {
  return `[encrypted message not shown: ${error}] ${E2E_DECRYPT_HINTS[error]}`;
}
