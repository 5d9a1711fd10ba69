/**
 * Creating, joining and claiming as the user means it, end-to-end keys included: membership.ts
 * speaks to the relay, the inbox sends the envelopes, and this file puts the two together — the
 * key split off a pasted link before anything reaches a relay, the greeting sent encrypted once
 * the session id exists, the hello sent and the greeting read after a join, and a key attached
 * to a membership already held without asking the relay.
 */
import { type E2eKey, splitE2eLink } from '../protocol/e2e/index.js';
import type { E2eSessions } from './e2e-sessions.js';
import { fromUsageError, isNexusError, toNexusError } from './errors.js';
import type { Inbox } from './inbox.js';
import type { Logger } from './logger.js';
import type {
  ClaimOptions,
  CreateOptions,
  CreateResult,
  JoinOptions,
  JoinResult,
  Membership,
} from './membership.js';
import type { SessionRegistry } from './session-registry.js';

/** How many messages from the start a joiner reads to find an encrypted greeting. */
const GREETING_SEARCH = 10;

export interface JoiningParts {
  registry: SessionRegistry;
  membership: Membership;
  inbox: Inbox;
  e2e: E2eSessions;
  /** `NEXUS_E2E=on`: new sessions are end-to-end encrypted unless a call says otherwise. */
  e2eByDefault: boolean;
  logger: Logger;
}

export class Joining {
  private readonly registry: SessionRegistry;
  private readonly membership: Membership;
  private readonly inbox: Inbox;
  private readonly e2e: E2eSessions;
  private readonly e2eByDefault: boolean;
  private readonly logger: Logger;

  constructor(parts: JoiningParts) {
    this.registry = parts.registry;
    this.membership = parts.membership;
    this.inbox = parts.inbox;
    this.e2e = parts.e2e;
    this.e2eByDefault = parts.e2eByDefault;
    this.logger = parts.logger;
  }

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
}

/** A pasted link or id without its `#e2e=` key, and the key; bad keys are refused. */
function split(input: string): { link: string; key?: E2eKey } {
  try {
    return splitE2eLink(input);
  } catch (error) {
    throw fromUsageError(error) ?? error;
  }
}
