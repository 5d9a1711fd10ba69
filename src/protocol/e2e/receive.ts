/**
 * One polled message through E2E v1: decide whether it is an envelope, open it, then check its
 * `seq` against the sender's replay window. The inbox calls this for every message of an
 * encrypted session and persists the returned replay state.
 */

import { type E2eKind, type E2ePayload, isEnvelopeText, openEnvelope } from './envelope.js';
import { E2E_DECRYPT_HINTS, type E2eDecryptError } from './errors.js';
import type { E2eKey } from './keys.js';
import { checkReplay, type ReplayState } from './replay.js';

export interface ReceiveInput {
  /** The body as polled. */
  body: { text: string; json?: unknown };
  sessionId: string;
  /** The relay's `agentId` for this message. */
  senderAgentId: string;
  key: E2eKey | undefined;
  replay: ReplayState;
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

export function receiveMessage(input: ReceiveInput): { received: Received; replay: ReplayState } {
  const { body } = input;
  if (!isEnvelopeText(body.text)) return { received: { encrypted: false }, replay: input.replay };
  // Envelopes never carry a `json` field; one that does was not written by a v1 client.
  const opened =
    body.json === undefined
      ? openEnvelope({ ...input, text: body.text })
      : ({ ok: false, error: 'malformed' } as const);
  if (!opened.ok) return { received: failed(opened.error), replay: input.replay };
  const { state, verdict } = checkReplay(input.replay, input.senderAgentId, opened.seq);
  if (verdict.replayed) return { received: failed('replayed'), replay: input.replay };
  return {
    received: {
      encrypted: true,
      decrypted: true,
      kind: opened.kind,
      seq: opened.seq,
      payload: opened.payload,
      ...(verdict.gapBefore !== undefined && { gapBefore: verdict.gapBefore }),
    },
    replay: state,
  };
}

function failed(error: E2eDecryptError): Received {
  return { encrypted: true, decrypted: false, error, placeholder: e2ePlaceholder(error) };
}

/** The text shown instead of a message that could not be decrypted: never the envelope. */
export function e2ePlaceholder(error: E2eDecryptError): string {
  return `[encrypted message not shown: ${error}] ${E2E_DECRYPT_HINTS[error]}`;
}
