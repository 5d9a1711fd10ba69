import type { SessionRecord, StoredMessage } from './storage.js';

/** Shapes of what the relay sends, built from stored records. Times go out as ISO 8601. */

/** `YYYY-MM-DDTHH:mm:ss.` per whole second, forgotten all at once when full. */
const secondPrefixes = new Map<number, string>();
const SECOND_PREFIXES_MAX = 4_096;
const MAX_DATE_MS = 8.64e15;

/**
 * `new Date(ms).toISOString()`, with the text up to the milliseconds remembered per second: a
 * poll formats two times per message, and toISOString was ~4 % of the relay's CPU under load.
 */
export function iso(ms: number): string {
  // Date's own range and rounding stay Date's: RangeError past ±8.64e15, truncation of fractions.
  if (!Number.isInteger(ms) || Math.abs(ms) > MAX_DATE_MS) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  let prefix = secondPrefixes.get(second);
  if (prefix === undefined) {
    prefix = new Date(second * 1000).toISOString().slice(0, -4);
    if (secondPrefixes.size >= SECOND_PREFIXES_MAX) secondPrefixes.clear();
    secondPrefixes.set(second, prefix);
  }
  const millis = ms - second * 1000;
  return `${prefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
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

/**
 * The message as JSON text, `JSON.stringify(wireMessage(message))` to the byte (tested), a
 * stored `json` payload spliced in as the text it was kept as. Written out, not stringified
 * from an object: a third of the time, and the largest of a poll's own costs in the profile.
 */
export function messageJson(message: StoredMessage): string {
  const { id, agentId, text, cursor, verified, createdAt, expiresAt, jsonText } = message;
  const head =
    `{"id":${JSON.stringify(id)},"agentId":${JSON.stringify(agentId)},"text":${JSON.stringify(text)},` +
    `"cursor":"${cursor}","verified":${verified},"createdAt":"${iso(createdAt)}","expiresAt":"${iso(expiresAt)}"`;
  return jsonText === undefined ? `${head}}` : `${head},"json":${jsonText}}`;
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
