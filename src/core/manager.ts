/**
 * The session manager: the core's front door. Every protocol operation as the user means it,
 * each handed to the service that owns it:
 * - session-registry.ts: resolving references, defaults, aliases, expiry marks;
 * - membership.ts: create, join, claim, leave, pairing codes on the relay;
 * - joining.ts: create, join and claim with end-to-end keys (membership + the inbox's envelopes);
 * - inbox.ts: send, poll, poll-all and every read position (the commit rule is documented there);
 * - session-status.ts: status, renew, list.
 */
import type { NexusError } from './errors.js';
import type {
  Inbox,
  PollAllResult,
  PollOptions,
  PollResult,
  SendOptions,
  SendResult,
} from './inbox.js';
import type { Joining } from './joining.js';
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
  joining: Joining;
  inbox: Inbox;
  status: SessionStatus;
}

export class SessionManager {
  readonly registry: SessionRegistry;
  readonly inbox: Inbox;
  private readonly membership: Membership;
  private readonly joining: Joining;
  private readonly statuses: SessionStatus;

  constructor(parts: ManagerParts) {
    this.registry = parts.registry;
    this.inbox = parts.inbox;
    this.membership = parts.membership;
    this.joining = parts.joining;
    this.statuses = parts.status;
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

  /** Creates a session; an encrypted one also sends the user's greeting as its first envelope. */
  create(options: CreateOptions = {}): Promise<CreateResult> {
    return this.joining.create(options);
  }

  /** Joins by full id, local reference or link; a link's `#e2e=` key is split off and kept. */
  join(options: JoinOptions): Promise<JoinResult> {
    return this.joining.join(options);
  }

  /** Claims a pairing code or link; a link's `#e2e=` key is split off and kept. */
  claim(options: ClaimOptions): Promise<JoinResult & { code: string }> {
    return this.joining.claim(options);
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
