/**
 * The checks a send makes before it writes, for stores that hold a session and its members in
 * process (memory, SQLite's cache): live session, sender a member and not idle past `idleMs`,
 * `key` the sender's when given. Plainly passing only: anything else is left to RelayService,
 * which runs the checks itself and answers with the right error (storage.ts, appendIfAllowed).
 */
import { keysMatch } from './secrets.js';
import type { AgentRecord, SessionRecord } from './storage.js';

export interface SendCheck {
  key: string | undefined;
  idleMs: number;
}

export function sendAllowed(
  entry: { session: SessionRecord; agents: ReadonlyMap<string, AgentRecord> },
  agentId: string,
  at: number,
  check: SendCheck,
): boolean {
  if (entry.session.expiresAt <= at) return false;
  const sender = entry.agents.get(agentId);
  if (!sender) return false;
  const idle =
    check.idleMs > 0 &&
    agentId !== entry.session.creatorAgentId &&
    sender.lastSeenAt + check.idleMs <= at;
  if (idle) return false;
  return check.key === undefined || keysMatch(sender.sessionKey, check.key);
}
