/**
 * The core's side of end-to-end encryption (docs/e2e-v1.md) and of client-side redaction: what
 * a body goes through before it leaves the machine, sealing with a `seq` taken under a lock, and
 * opening a polled batch in cursor order with the replay guard persisted under the session's
 * read-position lock (with the hand-over itself when the inbox commits a poll).
 * The inbox calls it for every send and every fetch; the manager for the greeting, the hello and
 * keys that arrive with a link.
 *
 * The key and the members seen live in the session's `e2e` record in the store; `seq` and the
 * guard change with every call and live beside it (e2e-state-file.ts). The record's own `seq`
 * and `guard` are floors only: what a store written before that file existed held.
 */
import {
  E2E_NOTICE_GREETING,
  type E2eKey,
  type E2eKind,
  type E2ePayload,
  type E2eSessionRecord,
  e2ePlaceholder,
  encodePayload,
  envelopeKeyId,
  guardOf,
  isEnvelopeText,
  matchesSeenKeyId,
  newE2eRecord,
  PLAINTEXT_IN_E2E_WARNING,
  prepareSeal,
  type Received,
  receiveMessage,
  recordKey,
  sealEnvelope,
  withConfirmedMember,
  withGuard,
  withKey,
  withSeenKeyId,
} from '../protocol/e2e/index.js';
import {
  guardJson,
  type Message,
  type OutgoingBody,
  prepareOutgoing,
  SecretScanner,
  type StoredSecret,
} from '../protocol/index.js';
import { E2eStateFiles, type StoredGuard } from './e2e-state-file.js';
import { clientError, fromUsageError } from './errors.js';
import { GREETING_CURSOR, type InboxMessage } from './messages.js';
import { sessionLabel } from './sessions.js';
import type { SessionStore, StoreData, StoredSession } from './store.js';

export interface E2eSessionsOptions {
  store: SessionStore;
  /** `NEXUS_CLIENT_REDACTION`: on unless a human turned it off. */
  redaction: boolean;
}

export class E2eSessions {
  private readonly store: SessionStore;
  private readonly redaction: boolean;
  /** The scanner of the stored secrets, rebuilt when the store file changes. */
  private scanned: { data: StoreData; scanner: SecretScanner } | undefined;
  private readonly files: E2eStateFiles;
  private readonly keys = new Map<string, E2eKey>();

  constructor(options: E2eSessionsOptions) {
    this.store = options.store;
    this.redaction = options.redaction;
    this.files = new E2eStateFiles(options.store.dir);
  }

  // ---- sending ----------------------------------------------------------------------------

  /**
   * What a body becomes before it leaves the machine, in every session: refused when it holds a
   * stored secret (a session key, an `S`, a link with a key), else redacted like the relay would.
   */
  prepare<T extends OutgoingBody>(body: T): { body: T; redacted: number } {
    try {
      return prepareOutgoing(body, { redaction: this.redaction, scanner: this.scanner() });
    } catch (error) {
      throw fromUsageError(error) ?? error;
    }
  }

  /**
   * Seals a prepared payload for a session: refuses without the key or when the payload is too
   * large (before a `seq` is spent), then takes the next `seq` under its lock, so two processes
   * of one agent never seal two envelopes with one `seq`.
   */
  seal(session: StoredSession, kind: E2eKind, payload: E2ePayload): string {
    const record = this.record(session);
    const key = record && this.keyOf(record);
    if (!key) {
      throw clientError(
        'e2e_key_missing',
        `Session ${sessionLabel(session)} is end-to-end encrypted and this install does not hold its key, so it cannot write there.`,
      );
    }
    try {
      encodePayload(payload, kind);
    } catch (error) {
      throw fromUsageError(error) ?? error;
    }
    const seq = this.files.takeSeq(session.sessionId, session.agentId, record.seq);
    const sealed = sealEnvelope({
      key,
      sessionId: session.sessionId,
      senderAgentId: session.agentId,
      kind,
      seq,
      payload,
    });
    // The next message's keys and cipher, made while this one is with the relay: one turn of
    // the event loop later, since undici writes the request from an immediate queued after this.
    setImmediate(() => setImmediate(prepareSeal, key));
    return sealed;
  }

  // ---- receiving --------------------------------------------------------------------------

  /**
   * Opens a batch (sorted by cursor) of an encrypted session, the replay guard written (when it
   * changed) under the session's read-position lock.
   */
  open(session: StoredSession, messages: readonly Message[]): InboxMessage[] {
    const opener = this.opener(session, messages);
    if (Array.isArray(opener)) return opener;
    // Read under the lock too: the guard is written in place, and a read made during another
    // process's write can parse as a valid guard that lacks the note it was writing (a replay
    // would then show as fresh).
    return this.store.movePosition(session, () => ({ result: opener.settle() }));
  }

  /**
   * A batch (sorted by cursor) to be opened by `settle`, which must run under the session's
   * read-position lock: the inbox's compare-and-advance, so one lock covers the hand-over and
   * the guard, and the guard is only ever written under that lock. It judges the batch from
   * the guard as it stands then, writes the guard, and returns the messages as they show. Until
   * then envelopes are placeholders; a batch never settled (a cancelled call) leaves the guard
   * as it was, and the next fetch judges those messages again.
   */
  openPending(
    session: StoredSession,
    messages: readonly Message[],
  ): { messages: InboxMessage[]; settle?: () => InboxMessage[] } {
    const opener = this.opener(session, messages);
    if (Array.isArray(opener)) return { messages: opener };
    return { messages: messages.map(unopened), settle: () => opener.settle() };
  }

  /** What opening a batch needs; the messages themselves when there is nothing to open. */
  private opener(session: StoredSession, messages: readonly Message[]) {
    const envelopes = messages.some((message) => isEnvelopeText(message.text));
    if (!session.e2e && !envelopes) return [...messages];
    const current = this.record(session);
    // A plain session stays plain: a peer cannot turn it into an encrypted one (and our sends
    // into refusals) by posting envelopes; those show as placeholders, nothing is stored.
    if (!current) return messages.map(unopened);
    const key = this.keyOf(current);
    /** Under the read-position lock: judges the batch from the guard as it stands then. */
    const settle = (): InboxMessage[] => {
      const final = this.files.updateGuard(session.sessionId, (stored) => {
        const before = stored ?? current.guard;
        const opened = openBatch(session, current, key, before, messages);
        // The guard only changes by judging a message past its `through`, which moves it.
        const changed = opened.guard.through !== before.through;
        return { ...(changed && { next: opened.guard }), result: opened };
      });
      if (!sameNotes(final.record, current)) this.remember(session, final.record);
      return final.messages;
    };
    return { settle };
  }

  /** Members seen and a key id noticed: rare changes, kept in the store beside the key. */
  private remember(session: StoredSession, seen: E2eSessionRecord): void {
    this.store.update(
      (data) => {
        const stored = data.sessions[session.sessionId];
        if (!stored) return;
        let record = stored.e2e ?? newE2eRecord(undefined);
        for (const member of seen.confirmedMembers) record = withConfirmedMember(record, member);
        if (record.secret === undefined && seen.seenKeyId !== undefined) {
          record = withSeenKeyId(record, seen.seenKeyId);
        }
        stored.e2e = record;
      },
      { durable: false },
    );
  }

  // ---- keys -------------------------------------------------------------------------------

  /** A fresh record for a new encrypted session, with its key. */
  static created(key: E2eKey): E2eSessionRecord {
    return newE2eRecord(key);
  }

  /**
   * Stores a key that came with a link (a new record when the session had none). True when the
   * key is new to the session: then a hello goes out.
   */
  attachKey(sessionId: string, key: E2eKey | undefined): boolean {
    return this.store.update((data) => {
      const stored = data.sessions[sessionId];
      if (!stored) return false;
      const record = stored.e2e ?? newE2eRecord(undefined);
      const had = record.secret !== undefined;
      stored.e2e = key && !had ? withKey(record, key) : record;
      return key !== undefined && !had;
    });
  }

  /**
   * The local session whose envelopes were sealed with `key` but which lacks it: a later claim
   * with the full link attaches the key there, without asking the relay.
   */
  awaitingKey(key: E2eKey): StoredSession | undefined {
    return this.store
      .list()
      .find(
        (session) =>
          session.e2e?.secret === undefined &&
          session.e2e !== undefined &&
          matchesSeenKeyId(session.e2e, key),
      );
  }

  /** The key of a record, derived once per process (HKDF) rather than at every message. */
  private keyOf(record: E2eSessionRecord): E2eKey | undefined {
    if (record.secret === undefined) return undefined;
    let key = this.keys.get(record.secret);
    if (!key) {
      key = recordKey(record);
      if (key) this.keys.set(record.secret, key);
    }
    return key;
  }

  /** Local encrypted sessions (not expired) whose key is missing. */
  lackingKey(): StoredSession[] {
    return this.store
      .list()
      .filter((session) => session.e2e && session.e2e.secret === undefined && !session.expiredAt);
  }

  /**
   * The session's record: as the caller read it when that holds the key (a key, once attached,
   * is never replaced), else as stored now (another process may have attached one since).
   */
  private record(session: StoredSession): E2eSessionRecord | undefined {
    if (session.e2e?.secret !== undefined) return session.e2e;
    const stored = this.store.read().sessions[session.sessionId];
    return stored ? stored.e2e : session.e2e;
  }

  private scanner(): SecretScanner {
    const data = this.store.read();
    if (this.scanned?.data !== data) {
      const secrets: StoredSecret[] = Object.values(data.sessions).flatMap((session) => [
        { kind: 'session_key' as const, value: session.sessionKey },
        ...(session.e2e?.secret !== undefined
          ? [{ kind: 'e2e_secret' as const, value: Buffer.from(session.e2e.secret, 'base64url') }]
          : []),
      ]);
      this.scanned = { data, scanner: new SecretScanner(secrets) };
    }
    return this.scanned.scanner;
  }
}

function sameNotes(a: E2eSessionRecord, b: E2eSessionRecord): boolean {
  return (
    a.seenKeyId === b.seenKeyId &&
    a.confirmedMembers.length === b.confirmedMembers.length &&
    a.confirmedMembers.every((member) => b.confirmedMembers.includes(member))
  );
}

/**
 * One pass over a batch in cursor order: what each message shows, the guard after it, and the
 * members and key id it saw.
 */
function openBatch(
  session: StoredSession,
  start: E2eSessionRecord,
  key: E2eKey | undefined,
  storedGuard: StoredGuard,
  messages: readonly Message[],
): { record: E2eSessionRecord; guard: StoredGuard; messages: InboxMessage[] } {
  let record = start;
  let guard = guardOf({ ...start, guard: storedGuard });
  const opened = messages.map((message): InboxMessage => {
    // The relay's greeting of an encrypted session is our fixed notice; the real one is an envelope.
    if (message.cursor === GREETING_CURSOR && message.text === E2E_NOTICE_GREETING) {
      return { ...message, hidden: true };
    }
    const result = receiveMessage({
      body: { text: message.text, ...(message.json !== undefined && { json: message.json }) },
      cursor: message.cursor,
      sessionId: session.sessionId,
      senderAgentId: message.agentId,
      key,
      guard,
    });
    guard = result.guard;
    const { received } = result;
    if (received.encrypted && received.decrypted) {
      record = withConfirmedMember(record, message.agentId);
    } else if (received.encrypted && received.error === 'no_key') {
      const seen = envelopeKeyId(message.text);
      if (seen !== undefined) record = withSeenKeyId(record, seen);
    }
    return shown(message, received);
  });
  return { record, guard: withGuard(record, guard).guard, messages: opened };
}

/** An envelope in a session without encryption state: a placeholder, never the envelope. */
function unopened(message: Message): InboxMessage {
  if (!isEnvelopeText(message.text)) return message;
  const { json: _json, ...rest } = message;
  return {
    ...rest,
    text: e2ePlaceholder('no_key'),
    e2e: { encrypted: true, decrypted: false, error: 'no_key' },
  };
}

/** A polled message as the model may see it: decrypted, a placeholder, or flagged plaintext. */
function shown(message: Message, received: Received): InboxMessage {
  if (!received.encrypted) {
    return { ...message, e2e: { encrypted: false, warning: PLAINTEXT_IN_E2E_WARNING } };
  }
  const { json: _wireJson, ...rest } = message;
  if (!received.decrypted) {
    return {
      ...rest,
      text: received.placeholder,
      e2e: { encrypted: true, decrypted: false, error: received.error },
    };
  }
  const mark = {
    encrypted: true,
    decrypted: true,
    kind: received.kind,
    ...(received.gapBefore !== undefined && { gapBefore: received.gapBefore }),
  } as const;
  if (received.kind === 'hello') return { ...rest, text: '', hidden: true, e2e: mark };
  const { text = '', json } = received.payload;
  if (json === undefined) return { ...rest, text, e2e: mark };
  // The same guard as payloads straight from a relay: bounded depth, plain-data objects.
  const guarded = guardJson(json);
  return guarded.ok
    ? { ...rest, text, json: guarded.value, e2e: mark }
    : {
        ...rest,
        text: `[malformed: the encrypted json payload could not be shown (${guarded.reason})]\n${text}`,
        malformed: true,
        e2e: mark,
      };
}
