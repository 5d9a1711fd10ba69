/** Messages as the core hands them over: who wrote them, whether they are ours, and how much fits. */
import type { E2eDecryptError, E2eKind } from '../protocol/e2e/index.js';
import type { Message } from '../protocol/index.js';

export const GREETING_CURSOR = '0';

export interface MessageView {
  /** Alias or short id of the session the message belongs to. */
  session: string;
  id: string;
  cursor: string;
  /** The sender's agent id; for the greeting, the session's creator. */
  from: string;
  text: string;
  json?: unknown;
  /** Sent with that agent id's session key: not a proven identity. */
  verified: boolean;
  own: boolean;
  greeting: boolean;
  createdAt?: string;
  /** Delivered as escaped text: its payload or sender could not be represented. */
  malformed?: true;
  /** Only in encrypted sessions: an envelope on the wire, opened or not, and why not. */
  encrypted?: boolean;
  decrypted?: boolean;
  e2eError?: E2eDecryptError;
  /** Messages of this sender the relay never delivered before this one. */
  gapBefore?: number;
  /** Plaintext in an encrypted session: the relay could read it. */
  warning?: string;
}

/** What opening a message of an encrypted session decided (e2e-sessions.ts). */
export type E2eMark =
  | { encrypted: false; warning: string }
  | { encrypted: true; decrypted: false; error: E2eDecryptError }
  | { encrypted: true; decrypted: true; kind: E2eKind; gapBefore?: number };

/**
 * A message as the inbox holds it: as polled, or opened. `hidden` ones (a hello, the relay's
 * notice greeting of an encrypted session) are never shown, but the read position moves past.
 */
export type InboxMessage = Message & { e2e?: E2eMark; hidden?: true };

export interface MessageContext {
  label: string;
  agentId: string;
  creatorAgentId?: string;
}

export function isGreeting(message: Message): boolean {
  return (
    message.type === 'greeting' ||
    (message.cursor === GREETING_CURSOR && message.agentId === 'system')
  );
}

export function toMessageView(message: InboxMessage, context: MessageContext): MessageView {
  const relayGreeting = isGreeting(message);
  const { e2e } = message;
  return {
    session: context.label,
    id: message.id,
    cursor: message.cursor,
    // The greeting is the creator's words, never a system instruction.
    from: relayGreeting ? (context.creatorAgentId ?? 'session creator') : message.agentId,
    text: message.text,
    ...(message.json !== undefined && { json: message.json }),
    verified: relayGreeting ? false : message.verified,
    own: !relayGreeting && message.agentId === context.agentId,
    // An encrypted greeting (kind 2) comes from its sender, under its key.
    greeting:
      relayGreeting || (e2e?.encrypted === true && e2e.decrypted && e2e.kind === 'greeting'),
    ...(message.createdAt !== undefined && { createdAt: message.createdAt }),
    ...(message.malformed && { malformed: true }),
    ...(e2e && e2eFields(e2e)),
  };
}

function e2eFields(e2e: E2eMark): Partial<MessageView> {
  if (!e2e.encrypted) return { encrypted: false, warning: e2e.warning };
  if (!e2e.decrypted) return { encrypted: true, decrypted: false, e2eError: e2e.error };
  return {
    encrypted: true,
    decrypted: true,
    ...(e2e.gapBefore !== undefined && { gapBefore: e2e.gapBefore }),
  };
}

export function messageSize(message: Pick<MessageView, 'text' | 'json'>): number {
  return (
    message.text.length + (message.json === undefined ? 0 : JSON.stringify(message.json).length)
  );
}

/**
 * The longest prefix of `messages` whose text fits in `budgetChars`, and at least one message:
 * a message larger than the whole budget still goes out whole when it comes first.
 */
export function takeWithinBudget<T extends Pick<MessageView, 'text' | 'json'>>(
  messages: readonly T[],
  budgetChars: number,
): { taken: T[]; used: number } {
  const taken: T[] = [];
  let used = 0;
  for (const message of messages) {
    const size = messageSize(message);
    if (taken.length > 0 && used + size > budgetChars) break;
    taken.push(message);
    used += size;
    if (used >= budgetChars) break;
  }
  return { taken, used };
}
