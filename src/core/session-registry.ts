/**
 * The local sessions as the rest of the core sees them: resolving what a caller typed, the
 * install's defaults (relay, agent id), argument checks, and the marks the relay's answers leave
 * (expired, last seen). The one place the core's services touch the store's session records;
 * read positions are the inbox's (inbox.ts).
 */
import { EventEmitter } from 'node:events';
import { cutReference, isAgentId, isSessionId, readPairingInput } from '../protocol/index.js';
import { type Clock, isoNow, systemClock } from './clock.js';
import { checkedUrl, generateAgentId, PUBLIC_RELAY_URL } from './config.js';
import { clientError, isNexusError } from './errors.js';
import type { Logger } from './logger.js';
import {
  resolveReference,
  type SessionInfo,
  shortId,
  toSessionInfo,
  validateAlias,
} from './sessions.js';
import type { SessionStore, StoredSession } from './store.js';

const EXPIRED_RETENTION_MS = 24 * 60 * 60_000;

export type SessionsChangedReason =
  | 'created'
  | 'joined'
  | 'claimed'
  | 'left'
  | 'alias'
  | 'expired'
  | 'imported';

type RegistryEvents = {
  'sessions-changed': [reason: SessionsChangedReason];
  'session-expired': [session: SessionInfo];
};

export interface RegistryOptions {
  store: SessionStore;
  logger: Logger;
  clock?: Clock;
  /** `--url` / `NEXUS_URL`, already normalised. */
  url?: string;
  /** `NEXUS_AGENT_ID`. */
  agentId?: string;
}

/** What the relay last said about a session's state (status, renew). */
export interface RelaySeen {
  agents: string[];
  expiresAt?: string;
  ttl: number;
  maxAgents: number;
  creatorAgentId?: string | null;
}

export class SessionRegistry {
  readonly events = new EventEmitter<RegistryEvents>();
  readonly clock: Clock;
  private readonly store: SessionStore;
  private readonly logger: Logger;
  private readonly url: string | undefined;
  private readonly agentIdOverride: string | undefined;

  constructor(options: RegistryOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    this.url = options.url;
    this.agentIdOverride = options.agentId;
  }

  // ---- defaults ---------------------------------------------------------------------------

  /** `--url`, else `NEXUS_URL`, else the URL saved in the store, else the public relay. */
  defaultServer(): string {
    return this.url ?? this.store.read().defaultServer ?? PUBLIC_RELAY_URL;
  }

  /** The URL saved in the store by `set-url`, if any. */
  savedServer(): string | undefined {
    return this.store.read().defaultServer;
  }

  setSavedServer(server: string | undefined): void {
    this.store.setDefaultServer(server === undefined ? undefined : checkedUrl(server, 'URL'));
  }

  defaultAgentId(): string {
    return this.agentIdOverride ?? this.store.defaultAgentId(generateAgentId);
  }

  // ---- finding sessions -------------------------------------------------------------------

  sessions(): SessionInfo[] {
    return this.store.all().map(toSessionInfo);
  }

  /** The session a reference names, with its current read position. */
  resolve(reference: string): StoredSession {
    return this.store.withPosition(resolveReference(this.store.list(), reference));
  }

  /** The session a reference names, as stored: its read position is the inbox's to read. */
  find(reference: string): StoredSession {
    return resolveReference(this.store.list(), reference);
  }

  /**
   * A full session id this install does not hold, with the relay to ask (`server`, else the
   * default); undefined for anything the store resolves or that is not a full id.
   */
  unheld(reference: string, server?: string): { sessionId: string; server: string } | undefined {
    const sessionId = reference.trim();
    if (!isSessionId(sessionId) || this.store.get(sessionId)) return undefined;
    return { sessionId, server: this.serverArg(server) };
  }

  /** The stored session a reference names, or undefined when none does. */
  lookup(reference: string): StoredSession | undefined {
    try {
      return this.resolve(reference);
    } catch (error) {
      if (isNexusError(error, 'unknown_session')) return undefined;
      throw error;
    }
  }

  info(reference: string): SessionInfo {
    return toSessionInfo(this.resolve(reference));
  }

  /** A session by full id as stored now (with its read position), if it is still there. */
  get(sessionId: string): StoredSession | undefined {
    return this.store.get(sessionId);
  }

  /** Every session not known to be expired; without read positions (the inbox adds them). */
  active(): StoredSession[] {
    return this.store.list().filter((session) => !session.expiredAt);
  }

  /** Every session, pruning those found expired more than a day ago first. */
  pruned(): StoredSession[] {
    this.store.pruneExpired(EXPIRED_RETENTION_MS);
    return this.store.all();
  }

  storeFiles(): {
    dir: string;
    file: string;
    modes: { dir?: number; file?: number };
    /** Entries under the directory open to other users (paths relative to it). */
    loose: { path: string; mode: number }[];
  } {
    const modes = this.store.fileModes();
    return {
      dir: this.store.dir,
      file: this.store.file,
      modes: {
        ...(modes.dir !== undefined && { dir: modes.dir }),
        ...(modes.file !== undefined && { file: modes.file }),
      },
      loose: this.store.looseEntries(),
    };
  }

  /** Entries moved out of the store for failing its schema: where, which, and why. */
  quarantined(): { file: string; entries: { sessionId: string; problem: string; at: string }[] } {
    return {
      file: this.store.quarantineFile,
      entries: this.store.quarantined().map((entry) => ({
        sessionId: String(entry.sessionId),
        problem: String(entry.problem),
        at: String(entry.quarantinedAt),
      })),
    };
  }

  // ---- changes ----------------------------------------------------------------------------

  /** Stores a new membership (replacing any earlier one of the same session). */
  put(session: StoredSession, reason: SessionsChangedReason): void {
    this.store.put(session);
    this.events.emit('sessions-changed', reason);
  }

  /**
   * A membership renewed on the same session (a rejoin): new agent id and key, everything else
   * kept — alias, relay binding and, above all, the read position, so nothing sent in between
   * is skipped.
   */
  rekey(
    session: StoredSession,
    membership: Pick<StoredSession, 'agentId' | 'sessionKey' | 'role'>,
  ): StoredSession {
    const updated = this.store.patch(session.sessionId, { ...membership, expiredAt: undefined });
    if (!updated) {
      throw clientError('unknown_session', 'That session is no longer in the local store.');
    }
    this.events.emit('sessions-changed', 'joined');
    return this.store.withPosition(updated);
  }

  /** Re-binds a session to another relay (the same session id there), keeping everything else. */
  rebind(reference: string, server: string): SessionInfo {
    const session = this.resolve(reference);
    const updated = this.store.patch(session.sessionId, {
      server: checkedUrl(server, 'server'),
      expiredAt: undefined,
    });
    if (!updated) {
      throw clientError('unknown_session', 'That session is no longer in the local store.');
    }
    this.events.emit('sessions-changed', 'alias');
    return toSessionInfo(this.store.withPosition(updated));
  }

  remove(sessionId: string, reason: SessionsChangedReason): void {
    this.store.remove(sessionId);
    this.events.emit('sessions-changed', reason);
  }

  setAlias(reference: string, alias: string): SessionInfo {
    const session = this.resolve(reference);
    const trimmed = alias.trim();
    const updated = this.store.setAlias(
      session.sessionId,
      trimmed ? validateAlias(trimmed) : undefined,
    );
    this.events.emit('sessions-changed', 'alias');
    return toSessionInfo(this.store.withPosition(updated));
  }

  /** Records that the relay no longer knows a session; says so once. */
  markExpired(session: StoredSession): SessionInfo {
    if (session.expiredAt) return toSessionInfo(session);
    const updated = this.store.patch(session.sessionId, { expiredAt: this.isoNow() }) ?? session;
    const info = toSessionInfo(this.store.withPosition(updated));
    this.logger.warn(`Session ${info.label} has expired on its relay.`);
    this.events.emit('session-expired', info);
    this.events.emit('sessions-changed', 'expired');
    return info;
  }

  /** Runs a call against a session's relay; a session_not_found marks it expired on the way out. */
  async withExpiry<T>(session: StoredSession, call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      if (session.expiredAt) this.store.patch(session.sessionId, { expiredAt: undefined });
      return result;
    } catch (error) {
      if (isNexusError(error, 'session_not_found')) this.markExpired(session);
      throw error;
    }
  }

  /** Keeps what the relay said about a session's state, for listings without a round trip. */
  remember(session: StoredSession, data: RelaySeen): StoredSession {
    const now = this.isoNow();
    const updated = this.store.patch(
      session.sessionId,
      {
        ...(data.creatorAgentId ? { creatorAgentId: data.creatorAgentId } : {}),
        expiredAt: undefined,
        lastSeen: {
          members: data.agents,
          ...(data.expiresAt !== undefined && { expiresAt: data.expiresAt }),
          ttl: data.ttl,
          maxAgents: data.maxAgents,
          checkedAt: now,
        },
      },
      // What the relay last said is a cache: no need to wait for the disk.
      { durable: false },
    );
    return updated ? this.store.withPosition(updated) : session;
  }

  /** Keeps a renewal's new expiry (and members, where the relay says them). */
  renewed(
    session: StoredSession,
    data: { ttl: number; expiresAt: string; agents?: string[] },
  ): StoredSession {
    const now = this.isoNow();
    const updated = this.store.patch(
      session.sessionId,
      {
        lastUsedAt: now,
        lastSeen: {
          ...session.lastSeen,
          ttl: data.ttl,
          expiresAt: data.expiresAt,
          checkedAt: now,
          ...(data.agents && { members: data.agents }),
        },
      },
      { durable: false },
    );
    return updated ? this.store.withPosition(updated) : session;
  }

  // ---- arguments --------------------------------------------------------------------------

  agentIdArg(agentId: string | undefined): string {
    if (agentId === undefined || agentId.trim() === '') return this.defaultAgentId();
    const trimmed = agentId.trim();
    if (!isAgentId(trimmed)) {
      throw clientError(
        'invalid_argument',
        `agent_id may hold only letters, digits, - and _, at most 128 characters (got ${cutReference(trimmed)}).`,
      );
    }
    return trimmed;
  }

  aliasArg(alias: string | undefined): string | undefined {
    if (alias === undefined || alias.trim() === '') return undefined;
    const valid = validateAlias(alias);
    const owner = this.store.list().find((session) => session.alias === valid);
    if (owner)
      throw clientError(
        'alias_taken',
        `The alias "${valid}" already names session ${shortId(owner.sessionId)}.`,
      );
    return valid;
  }

  /** A pairing code or link, with the relay it names (if any). */
  pairingArg(input: string): { code: string; server?: string } {
    // A fragment (an end-to-end key) is never part of the code, and never echoed in an error.
    const reading = readPairingInput(input.split('#', 1)[0] ?? '');
    if (!reading.ok) {
      throw clientError(
        'invalid_pairing_input',
        `Not a pairing code or link (${reading.problem}): ${cutReference(reading.shown)}.`,
      );
    }
    return reading.reference;
  }

  serverArg(server: string | undefined): string {
    return server ? checkedUrl(server, 'server') : this.defaultServer();
  }

  isoNow(): string {
    return isoNow(this.clock);
  }
}
