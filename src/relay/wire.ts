import type { SessionRecord, StoredMessage } from './storage.js';

/** Shapes of what the relay sends, built from stored records. Times go out as ISO 8601. */

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export interface WireMessage {
  id: string;
  agentId: string;
  text: string;
  json?: unknown;
  cursor: string;
  verified: boolean;
  type?: 'greeting';
  createdAt: string;
  expiresAt?: string;
}

/** The message as JSON text; a stored `json` payload is spliced in as the text it was kept as. */
export function messageJson(message: StoredMessage): string {
  const text = JSON.stringify(wireMessage(message));
  return message.jsonText === undefined ? text : `${text.slice(0, -1)},"json":${message.jsonText}}`;
}

/** The message's fields except `json` (see messageJson). */
export function wireMessage(message: StoredMessage): WireMessage {
  const wire: WireMessage = {
    id: message.id,
    agentId: message.agentId,
    text: message.text,
    cursor: String(message.cursor),
    verified: message.verified,
    createdAt: iso(message.createdAt),
    expiresAt: iso(message.expiresAt),
  };
  return wire;
}

/** The greeting sits at cursor 0, written by the creator, never by the relay itself. */
export function greetingMessage(session: SessionRecord & { greeting: string }): WireMessage {
  return {
    id: 'msg_greeting',
    agentId: 'system',
    text: session.greeting,
    cursor: '0',
    verified: false,
    type: 'greeting',
    createdAt: iso(session.createdAt),
  };
}

export function sessionStatus(session: SessionRecord) {
  return {
    sessionId: session.sessionId,
    state: 'active' as const,
    agents: session.agents.map((agent) => agent.agentId),
    ttl: session.ttlSeconds,
    maxAgents: session.maxAgents,
    creatorAgentId: session.creatorAgentId ?? null,
    expiresAt: iso(session.expiresAt),
  };
}
