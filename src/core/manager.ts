/**
 * The session manager: the core's front door. Every protocol operation as the user means it,
 * each handed to the service that owns it:
 * - session-registry.ts: resolving references, defaults, aliases, expiry marks;
 * - membership.ts: create, join, claim, leave, pairing codes;
 * - inbox.ts: send, poll, poll-all and every read position (the commit rule is documented there);
 * - session-status.ts: status, renew, list.
 */

import { type E2eKey, splitE2eLink } from '../protocol/e2e/index.js';
import type { E2eSessions } from './e2e-sessions.js';
import { fromUsageError, isNexusError, type NexusError, toNexusError } from './errors.js';
import type {
  Inbox,
  PollAllResult,
  PollOptions,
  PollResult,
  SendOptions,
  SendResult,
} from './inbox.js';
import type { Logger } from './logger.js';
import type {
  ClaimOptions,
  CreateOptions,
  CreateResult,
  JoinOptions,
  JoinResult,
  LeaveOptions,
  LeaveResult,
  Membership,
  PairingInfo,
  PairStatusResult,
} from './membership.js';
import type { Capabilities } from './relay-client.js';
import type { SessionRegistry } from './session-registry.js';
import type {
  ListEntry,
  RelayHealth,
  RenewResult,
  SessionStatus,
  StatusResult,
} from './session-status.js';
import type { SessionInfo } from './sessions.js';

export interface ManagerParts {
  registry: SessionRegistry;
  membership: Membership;
  inbox: Inbox;
  status: SessionStatus;
  e2e: E2eSessions;
  /** `NEXUS_E2E=on`: new sessions are end-to-end encrypted unless a call says otherwise. */
  e2eByDefault?: boolean;
  logger: Logger;
}

/** How many messages from the start a joiner reads to find an encrypted greeting. */
const GREETING_SEARCH = 10;

export class SessionManager {
  readonly registry: SessionRegistry;
  readonly inbox: Inbox;
  private readonly membership: Membership;
  private readonly statuses: SessionStatus;
  private readonly e2e: E2eSessions;
  private readonly e2eByDefault: boolean;
  private readonly logger: Logger;

  constructor(parts: ManagerParts) {
    this.registry = parts.registry;
    this.inbox = parts.inbox;
    this.membership = parts.membership;
    this.statuses = parts.status;
    this.e2e = parts.e2e;
    this.e2eByDefault = parts.e2eByDefault ?? false;
    this.logger = parts.logger;
  }

  /** `sessions-changed` and `session-expired`, for resources and list notifications. */
  get events(): SessionRegistry['events'] {
    return this.registry.events;
  }

  // ---- identity and references ------------------------------------------------------------

  defaultServer(): string {
    return this.registry.defaultServer();
  }

  defaultAgentId(): string {
    return this.registry.defaultAgentId();
  }

  sessions(): SessionInfo[] {
    return this.registry.sessions();
  }

  info(reference: string): SessionInfo {
    return this.registry.info(reference);
  }

  /** The session a reference names (alias, id prefix or full id). */
  resolve(reference: string): SessionInfo {
    return this.registry.info(reference);
  }

  setAlias(reference: string, alias: string): SessionInfo {
    return this.registry.setAlias(reference, alias);
  }

  /** Binds a stored session to another relay (where the same session id lives). */
  rebind(reference: string, server: string): SessionInfo {
    return this.registry.rebind(reference, server);
  }

  // ---- membership -------------------------------------------------------------------------

  /**
   * Creates a session; an encrypted one (`e2e`, or `NEXUS_E2E=on`) then sends the user's greeting
   * as its first envelope, now that the session id (part of every envelope's AAD) exists.
   */
  async create(options: CreateOptions = {}): Promise<CreateResult> {
    const e2e = options.e2e ?? this.e2eByDefault;
    // The greeting leaves the machine like any message: secrets refused or redacted first.
    const greeting =
      options.greeting === undefined
        ? undefined
        : (this.inbox.prepare({ text: options.greeting }).body.text ?? '');
    const created = await this.membership.create({
      ...options,
      e2e,
      ...(greeting !== undefined && { greeting }),
    });
    if (!e2e || !greeting) return created;
    const session = this.registry.get(created.session.sessionId);
    if (!session) return created;
    try {
      await this.inbox.sendEnvelope(session, 'greeting', { text: greeting }, options.signal);
      return created;
    } catch (error) {
      if (isNexusError(error, 'aborted')) throw error;
      return { ...created, greetingError: toNexusError(error) };
    }
  }

  /**
   * Joins by full id. A pasted id or link with `#e2e=1.…` is split first, so only the bare id
   * reaches the relay; already a member, the key is attached without asking the relay.
   */
  async join(options: JoinOptions): Promise<JoinResult> {
    const { link, key } = split(options.sessionId);
    const local = key ? this.registry.get(link.trim()) : undefined;
    if (local && key && !local.expiredAt && local.e2e?.secret === undefined) {
      return this.keyAttached(local.sessionId, key, options.signal);
    }
    const joined = await this.membership.join({ ...options, sessionId: link });
    return this.afterJoin(joined, key, options.signal);
  }

  /**
   * Claims a pairing code or link. The link's `#e2e=1.…` key is split off first and stored;
   * the same link again for a session that lacks its key attaches the key, no relay asked.
   */
  async claim(options: ClaimOptions): Promise<JoinResult & { code: string }> {
    const { link, key } = split(options.code);
    const awaiting = key && this.e2e.awaitingKey(key);
    if (awaiting && key) {
      const attached = await this.keyAttached(awaiting.sessionId, key, options.signal);
      return { ...attached, code: this.registry.pairingArg(link).code };
    }
    let claimed: JoinResult & { code: string };
    try {
      claimed = await this.membership.claim({ ...options, code: link });
    } catch (error) {
      // The code was ours already (claimed bare, never read since): find its session by the key.
      const found =
        key && isNexusError(error, 'code_expired_or_used')
          ? await this.sessionOfKey(key, options.signal)
          : undefined;
      if (!found || !key) throw error;
      const attached = await this.keyAttached(found.sessionId, key, options.signal);
      return { ...attached, code: this.registry.pairingArg(link).code };
    }
    return { ...(await this.afterJoin(claimed, key, options.signal)), code: claimed.code };
  }

  /**
   * The local session a key belongs to among those lacking theirs: reading each one's envelopes
   * notes the key id they were sealed with (a replay: no read position moves).
   */
  private async sessionOfKey(key: E2eKey, signal: AbortSignal | undefined) {
    for (const session of this.e2e.lackingKey()) {
      await this.inbox
        .poll(session.sessionId, { after: '0', limit: GREETING_SEARCH, ...(signal && { signal }) })
        .catch(() => undefined);
    }
    return this.e2e.awaitingKey(key);
  }

  leave(reference: string, options: LeaveOptions = {}): Promise<LeaveResult> {
    return this.membership.leave(reference, options);
  }

  /** `server` applies only to a full session id this install does not hold. */
  pair(
    reference: string,
    signal?: AbortSignal,
    server?: string,
  ): Promise<PairingInfo & { session?: SessionInfo; label: string }> {
    return this.membership.pair(reference, signal, server);
  }

  pairStatus(code: string, signal?: AbortSignal): Promise<PairStatusResult> {
    return this.membership.pairStatus(code, signal);
  }

  // ---- messages ---------------------------------------------------------------------------

  send(reference: string, options: SendOptions): Promise<SendResult> {
    return this.inbox.send(reference, options);
  }

  poll(reference: string, options: PollOptions = {}): Promise<PollResult> {
    return this.inbox.poll(reference, options);
  }

  pollAll(options: Omit<PollOptions, 'after'> = {}): Promise<PollAllResult> {
    return this.inbox.pollAll(options);
  }

  capabilitiesOf(server: string, signal?: AbortSignal): Promise<Capabilities> {
    return this.inbox.capabilitiesOf(server, signal);
  }

  // ---- end-to-end keys --------------------------------------------------------------------

  /** A key attached to a membership this install already holds. */
  private async keyAttached(
    sessionId: string,
    key: E2eKey,
    signal: AbortSignal | undefined,
  ): Promise<JoinResult> {
    const fresh = this.e2e.attachKey(sessionId, key);
    this.registry.events.emit('sessions-changed', 'joined');
    const joined: JoinResult = { session: this.registry.info(sessionId), alreadyJoined: true };
    return this.withE2eGreeting({ ...joined, ...(fresh && { keyAttached: true }) }, fresh, signal);
  }

  /** After a join or claim: the key stored, the hello sent, the greeting read from its envelope. */
  private async afterJoin<T extends JoinResult>(
    joined: T,
    key: E2eKey | undefined,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const { sessionId } = joined.session;
    const known = this.registry.get(sessionId)?.e2e !== undefined;
    if (!key && !known) return joined;
    const fresh = this.e2e.attachKey(sessionId, key);
    // The relay's greeting is only the notice: the creator's words are in an envelope.
    const { greeting: _notice, ...rest } = joined;
    const base = { ...rest, session: this.registry.info(sessionId) } as T;
    return this.withE2eGreeting(
      { ...base, ...(fresh && !joined.alreadyJoined && { keyAttached: true }) },
      fresh,
      signal,
    );
  }

  /**
   * Sends the hello (kind 3) when the key is new here, so members see this one as confirmed,
   * then reads the greeting envelope from the start of the session. Neither failing fails the
   * join: the membership and the key are stored.
   */
  private async withE2eGreeting<T extends JoinResult>(
    joined: T,
    sendHello: boolean,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const session = this.registry.get(joined.session.sessionId);
    if (!session?.e2e?.secret) return joined;
    if (sendHello) {
      await this.inbox.sendEnvelope(session, 'hello', {}, signal).catch((error: unknown) => {
        if (isNexusError(error, 'aborted')) throw error;
        this.logger.warn(
          `The hello of session ${joined.session.label} could not be sent: ${toNexusError(error).code}.`,
        );
      });
    }
    const page = await this.inbox
      .poll(session.sessionId, {
        after: '0',
        limit: GREETING_SEARCH,
        budgetChars: 8_000,
        ...(signal && { signal }),
      })
      .catch(() => undefined);
    const greeting = page?.messages.find((message) => message.greeting && message.decrypted);
    return {
      ...joined,
      session: this.registry.info(session.sessionId),
      ...(greeting && { greeting: { from: greeting.from, text: greeting.text } }),
    };
  }

  // ---- status -----------------------------------------------------------------------------

  /** `server` applies only to a full session id this install does not hold. */
  status(reference: string, signal?: AbortSignal, server?: string): Promise<StatusResult> {
    return this.statuses.status(reference, signal, server);
  }

  renew(reference: string, ttl?: number, signal?: AbortSignal): Promise<RenewResult> {
    return this.statuses.renew(reference, ttl, signal);
  }

  list(options: { probe?: boolean; signal?: AbortSignal } = {}): Promise<ListEntry[]> {
    return this.statuses.list(options);
  }

  /** Who created a session, as its relay says (null: it names nobody). */
  creatorOf(session: { server: string; sessionId: string }): Promise<string | null> {
    return this.statuses.creatorOf(session);
  }

  /** A relay's /health, asked now with a short timeout; the error when it did not answer. */
  health(server: string): Promise<RelayHealth | NexusError> {
    return this.statuses.health(server);
  }
}

/** A pasted link or id without its `#e2e=` key, and the key; bad keys are refused. */
function split(input: string): { link: string; key?: E2eKey } {
  try {
    return splitE2eLink(input);
  } catch (error) {
    throw fromUsageError(error) ?? error;
  }
}
