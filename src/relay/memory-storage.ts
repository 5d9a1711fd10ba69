import {
  copySession,
  type HeldSession,
  holdSession,
  type SendCheck,
  sendAllowed,
} from './held-session.js';
import { LocalStorageBase } from './local-storage-base.js';
import { MessageLog } from './message-log.js';
import type {
  AddAgentResult,
  AgentRecord,
  ClaimPairCodeResult,
  CreateSessionResult,
  MessageDraft,
  PairCodeRecord,
  RelayStorage,
  SessionOwner,
  SessionRecord,
  StorageCounts,
  StoredMessage,
} from './storage.js';

export interface MemoryStorageOptions {
  maxMessagesPerSession: number;
}

interface Entry extends HeldSession {
  messages: MessageLog;
  owner: string | undefined;
}

/**
 * Everything in this process's memory, gone on restart: for tests, the demo and throwaway
 * relays. Each method runs without awaiting, which is what makes it atomic.
 */
export class MemoryStorage extends LocalStorageBase implements RelayStorage {
  private readonly sessions = new Map<string, Entry>();
  private readonly pairCodes = new Map<string, PairCodeRecord>();
  private readonly byOwner = new Map<string, Set<string>>();

  constructor(private readonly options: MemoryStorageOptions) {
    super();
  }

  async createSession(session: SessionRecord, owner?: SessionOwner): Promise<CreateSessionResult> {
    if (this.sessions.has(session.sessionId)) return 'taken';
    if (owner && this.liveSessionsOf(owner.address, session.createdAt) >= owner.maxSessions) {
      return 'limit';
    }
    this.sessions.set(session.sessionId, {
      ...holdSession(session),
      messages: new MessageLog(),
      owner: owner?.address,
    });
    if (owner) {
      const owned = this.byOwner.get(owner.address) ?? new Set();
      owned.add(session.sessionId);
      this.byOwner.set(owner.address, owned);
    }
    return 'created';
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const entry = this.sessions.get(sessionId);
    return entry && copySession(entry);
  }

  async deleteSession(sessionId: string): Promise<void> {
    const entry = this.sessions.get(sessionId);
    if (!entry) return;
    this.sessions.delete(sessionId);
    if (entry.owner === undefined) return;
    const owned = this.byOwner.get(entry.owner);
    owned?.delete(sessionId);
    if (owned?.size === 0) this.byOwner.delete(entry.owner);
  }

  async listSessionIds(): Promise<string[]> {
    return [...this.sessions.keys()];
  }

  async touch(
    sessionId: string,
    agentId: string,
    at: number,
    ttlSeconds?: number,
  ): Promise<SessionRecord | undefined> {
    const entry = this.sessions.get(sessionId);
    if (!entry) return undefined;
    if (ttlSeconds !== undefined) entry.session.ttlSeconds = ttlSeconds;
    entry.session.expiresAt = at + entry.session.ttlSeconds * 1000;
    const agent = entry.agents.get(agentId);
    if (agent) agent.lastSeenAt = at;
    return copySession(entry);
  }

  async addAgent(sessionId: string, agent: AgentRecord): Promise<AddAgentResult> {
    const entry = this.sessions.get(sessionId);
    if (!entry) return 'missing';
    if (entry.agents.has(agent.agentId)) return 'taken';
    if (entry.agents.size >= entry.session.maxAgents) return 'full';
    entry.agents.set(agent.agentId, { ...agent });
    return 'added';
  }

  async removeAgent(sessionId: string, agentId: string): Promise<boolean> {
    return this.sessions.get(sessionId)?.agents.delete(agentId) ?? false;
  }

  async appendMessage(sessionId: string, draft: MessageDraft): Promise<StoredMessage | undefined> {
    const entry = this.sessions.get(sessionId);
    if (!entry) return undefined;
    return this.append(sessionId, entry, { ...draft, cursor: 0 });
  }

  /**
   * Offered although nothing here is a round trip away: the checks read the stored session in
   * place instead of a copy of it, which under send load cost more than the append itself.
   */
  async appendIfAllowed(
    sessionId: string,
    draft: Omit<MessageDraft, 'expiresAt'>,
    check: SendCheck,
  ): Promise<StoredMessage | undefined> {
    const entry = this.sessions.get(sessionId);
    const at = draft.createdAt;
    if (!entry || !sendAllowed(entry, draft.agentId, at, check)) return undefined;
    const expiresAt = at + entry.session.ttlSeconds * 1000;
    return this.append(sessionId, entry, { ...draft, expiresAt, cursor: 0 });
  }

  /** Gives `message` the next cursor and stores it; as appendMessage describes. */
  private append(sessionId: string, entry: Entry, message: StoredMessage): StoredMessage {
    message.cursor = entry.session.lastCursor + 1;
    entry.session.lastCursor = message.cursor;
    entry.session.expiresAt = message.createdAt + entry.session.ttlSeconds * 1000;
    const sender = entry.agents.get(message.agentId);
    if (sender) sender.lastSeenAt = message.createdAt;
    entry.messages.push(message, this.options.maxMessagesPerSession);
    this.notify(sessionId, message.cursor);
    return message;
  }

  async readMessages(
    sessionId: string,
    after: number | undefined,
    limit: number,
    now: number,
  ): Promise<StoredMessage[]> {
    return this.sessions.get(sessionId)?.messages.after(after, limit, now) ?? [];
  }

  async putPairCode(record: PairCodeRecord): Promise<boolean> {
    if (this.pairCodes.has(record.code)) return false;
    this.pairCodes.set(record.code, { ...record });
    return true;
  }

  async getPairCode(code: string): Promise<PairCodeRecord | undefined> {
    const record = this.pairCodes.get(code);
    return record && { ...record };
  }

  async claimPairCode(code: string, at: number): Promise<ClaimPairCodeResult> {
    const record = this.pairCodes.get(code);
    if (!record) return 'missing';
    if (record.claimedAt !== undefined || record.expiresAt <= at) return 'unavailable';
    record.claimedAt = at;
    return 'claimed';
  }

  async releasePairCode(code: string): Promise<void> {
    const record = this.pairCodes.get(code);
    if (record) delete record.claimedAt;
  }

  async prunePairCodes(before: number): Promise<void> {
    for (const [code, record] of this.pairCodes) {
      if (record.expiresAt < before) this.pairCodes.delete(code);
    }
  }

  async dropExpired(now: number): Promise<void> {
    for (const [sessionId, entry] of this.sessions) {
      if (entry.session.expiresAt <= now) await this.deleteSession(sessionId);
      else entry.messages.dropExpired(now);
    }
    this.requests.sweep(now);
  }

  async counts(now: number): Promise<StorageCounts> {
    const counts: StorageCounts = { sessions: 0, agents: 0, messages: 0 };
    for (const entry of this.sessions.values()) {
      if (entry.session.expiresAt <= now) continue;
      entry.messages.dropExpired(now);
      counts.sessions++;
      counts.agents += entry.agents.size;
      counts.messages += entry.messages.size;
    }
    return counts;
  }

  async close(): Promise<void> {
    this.forgetListeners();
  }

  private liveSessionsOf(address: string, now: number): number {
    let count = 0;
    for (const sessionId of this.byOwner.get(address) ?? []) {
      const entry = this.sessions.get(sessionId);
      if (entry && entry.session.expiresAt > now) count++;
    }
    return count;
  }
}
