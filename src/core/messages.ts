/** Messages as the core hands them over: who wrote them, whether they are ours, and how much fits. */
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
}

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

export function toMessageView(message: Message, context: MessageContext): MessageView {
  const greeting = isGreeting(message);
  return {
    session: context.label,
    id: message.id,
    cursor: message.cursor,
    // The greeting is the creator's words, never a system instruction.
    from: greeting ? (context.creatorAgentId ?? 'session creator') : message.agentId,
    text: message.text,
    ...(message.json !== undefined && { json: message.json }),
    verified: greeting ? false : message.verified,
    own: !greeting && message.agentId === context.agentId,
    greeting,
    ...(message.createdAt !== undefined && { createdAt: message.createdAt }),
    ...(message.malformed && { malformed: true }),
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
