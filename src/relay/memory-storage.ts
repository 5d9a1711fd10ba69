import { MessageLog } from './message-log.js';
import { MetadataFile } from './metadata-file.js';
import type {
  AddAgentResult,
  AgentRecord,
  ClaimPairCodeResult,
  MessageDraft,
  MessageListener,
  PairCodeRecord,
  RelayStorage,
  SessionRecord,
  StorageCounts,
  StoredMessage,
} from './storage.js';

export interface MemoryStorageOptions {
  maxMessagesPerSession: number;
  /** Persist session metadata and pair codes here; messages always stay in memory. */
  dataDir?: string;
  /** Sessions expired at this time are not reloaded. */
  now: number;
  log: (line: string) => void;
}

interface Entry {
  session: SessionRecord;
  agents: Map<string, AgentRecord>;
  messages: MessageLog;
}

function copySession(entry: Entry): SessionRecord {
  return {
    ...entry.session,
    agents: [...entry.agents.values()].map((agent) => ({ ...agent })),
  };
}

/**
 * Everything in memory, with session metadata and pair codes mirrored to a file when a data dir
 * is given. Each method runs without awaiting, which is what makes it atomic.
 */
export class MemoryStorage implements RelayStorage {
  private readonly sessions = new Map<string, Entry>();
  private readonly pairCodes = new Map<string, PairCodeRecord>();
  private readonly listeners = new Set<MessageListener>();
  private readonly file: MetadataFile | undefined;

  constructor(private readonly options: MemoryStorageOptions) {
    if (options.dataDir === undefined) return;
    this.file = new MetadataFile(options.dataDir, () => this.metadata(), options.log);
    const loaded = this.file.load();
    for (const session of loaded.sessions) {
      if (session.expiresAt <= options.now) continue;
      this.sessions.set(session.sessionId, this.entryFor(session));
    }
    for (const code of loaded.pairCodes) this.pairCodes.set(code.code, code);
  }

  async createSession(session: SessionRecord): Promise<boolean> {
    if (this.sessions.has(session.sessionId)) return false;
    this.sessions.set(session.sessionId, this.entryFor(session));
    this.changed();
    return true;
  }

  async getSession(sessionId: string): Promise<SessionRecord | undefined> {
    const entry = this.sessions.get(sessionId);
    return entry && copySession(entry);
  }

  async deleteSession(sessionId: string): Promise<void> {
    if (this.sessions.delete(sessionId)) this.changed();
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
    this.changed();
    return copySession(entry);
  }

  async addAgent(sessionId: string, agent: AgentRecord): Promise<AddAgentResult> {
    const entry = this.sessions.get(sessionId);
    if (!entry) return 'missing';
    if (entry.agents.has(agent.agentId)) return 'taken';
    if (entry.agents.size >= entry.session.maxAgents) return 'full';
    entry.agents.set(agent.agentId, { ...agent });
    this.changed();
    return 'added';
  }

  async removeAgent(sessionId: string, agentId: string): Promise<boolean> {
    const removed = this.sessions.get(sessionId)?.agents.delete(agentId) ?? false;
    if (removed) this.changed();
    return removed;
  }

  async appendMessage(sessionId: string, draft: MessageDraft): Promise<StoredMessage | undefined> {
    const entry = this.sessions.get(sessionId);
    if (!entry) return undefined;
    const message: StoredMessage = { ...draft, cursor: entry.session.lastCursor + 1 };
    entry.session.lastCursor = message.cursor;
    entry.messages.push(message, this.options.maxMessagesPerSession);
    this.changed();
    for (const listener of this.listeners) listener(sessionId, message.cursor);
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

  subscribe(listener: MessageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async putPairCode(record: PairCodeRecord): Promise<boolean> {
    if (this.pairCodes.has(record.code)) return false;
    this.pairCodes.set(record.code, { ...record });
    this.changed();
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
    this.changed();
    return 'claimed';
  }

  async releasePairCode(code: string): Promise<void> {
    const record = this.pairCodes.get(code);
    if (record?.claimedAt === undefined) return;
    delete record.claimedAt;
    this.changed();
  }

  async prunePairCodes(before: number): Promise<void> {
    for (const [code, record] of this.pairCodes) {
      if (record.expiresAt < before) {
        this.pairCodes.delete(code);
        this.changed();
      }
    }
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

  async flush(): Promise<void> {
    await this.file?.flush();
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.file?.close();
  }

  private entryFor(session: SessionRecord): Entry {
    const { agents, ...rest } = session;
    return {
      session: { ...rest, agents: [] },
      agents: new Map(agents.map((agent) => [agent.agentId, { ...agent }])),
      messages: new MessageLog(),
    };
  }

  private metadata(): { sessions: SessionRecord[]; pairCodes: PairCodeRecord[] } {
    return {
      sessions: [...this.sessions.values()].map(copySession),
      pairCodes: [...this.pairCodes.values()],
    };
  }

  private changed(): void {
    this.file?.markDirty();
  }
}
