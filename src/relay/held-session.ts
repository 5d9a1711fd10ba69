/**
 * A session held in this process's memory, as the memory store and SQLite's cache keep it: the
 * record without its agents, and the agents by id. How one is made from a stored record, copied
 * back out, and checked for a send.
 */
import { keysMatch } from './secrets.js';
import type { AgentRecord, SessionRecord } from './storage.js';

export interface HeldSession {
  /** Without agents (they are in `agents`). */
  session: SessionRecord;
  agents: Map<string, AgentRecord>;
}

/** Holds a copy of `record`: changing what is held changes nothing the caller has. */
export function holdSession(record: SessionRecord): HeldSession {
  const { agents, ...rest } = record;
  return {
    session: { ...rest, agents: [] },
    agents: new Map(agents.map((agent) => [agent.agentId, { ...agent }])),
  };
}

/** A copy: changing it changes nothing held. */
export function copySession(held: HeldSession): SessionRecord {
  return {
    ...held.session,
    agents: [...held.agents.values()].map((agent) => ({ ...agent })),
  };
}

export interface SendCheck {
  key: string | undefined;
  idleMs: number;
}

/**
 * The checks a send makes before it writes: live session, sender a member and not idle past
 * `idleMs`, `key` the sender's when given. Plainly passing only: anything else is left to
 * RelayService, which runs the checks itself and answers with the right error (storage.ts,
 * appendIfAllowed).
 */
export function sendAllowed(
  held: HeldSession,
  agentId: string,
  at: number,
  check: SendCheck,
): boolean {
  if (held.session.expiresAt <= at) return false;
  const sender = held.agents.get(agentId);
  if (!sender) return false;
  const idle =
    check.idleMs > 0 &&
    agentId !== held.session.creatorAgentId &&
    sender.lastSeenAt + check.idleMs <= at;
  if (idle) return false;
  return check.key === undefined || keysMatch(sender.sessionKey, check.key);
}
