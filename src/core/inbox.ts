/**
 * The inbox: the one home of read positions. Sending, polling, polling every session, fetching
 * for the watcher, handing a batch over, replaying (`after`) and the own-message rules all live
 * here; nothing else moves a cursor.
 *
 * Exactly once per store. Several processes share a store (every host runs its own server), so
 * handing messages over is one compare-and-advance step under the session's lock: read where the
 * session stands, keep only the messages not yet handed over, take what fits, move the position
 * past them. A process that lost a race gets the rest, never a copy.
 *
 * The commit rule (what "delivered" means). A message counts as delivered once the answer that
 * carries it can have reached the host:
 * 1. A cancelled or failed call commits nothing: the hand-over is the last, synchronous step of a
 *    call, after its last await, and a call whose signal is aborted by then hands nothing over.
 *    Between the hand-over and the answer being written there is no await, so a cancel cannot
 *    slip in between inside this process.
 * 2. A cancel that reaches the server after the answer was sent (it crossed the answer on the
 *    wire; the host drops answers to requests it cancelled) gives the batch back: `giveBack`
 *    records the ranges as due again, and the next poll or wait, in any process, hands them over
 *    again before anything newer. The MCP layer calls it (src/mcp/deliveries.ts).
 * So after any cancel, the next poll or wait returns every message not yet shown. The one gap
 * left is a process killed in the microseconds between committing and writing its answer.
 */
import type { E2eKind, E2ePayload } from '../protocol/e2e/index.js';
import {
  compareCursors,
  cutReference,
  isCursor,
  type Member,
  maxCursor,
  type SendRequest,
} from '../protocol/index.js';
import { type Clock, isoNow } from './clock.js';
import { mapLimit } from './concurrency.js';
import type { ReadPosition } from './cursor-file.js';
import type { E2eSessions } from './e2e-sessions.js';
import { clientError, isNexusError, NexusError } from './errors.js';
import {
  GREETING_CURSOR,
  type InboxMessage,
  isGreeting,
  type MessageView,
  messageSize,
  takeWithinBudget,
  toMessageView,
} from './messages.js';
import type { Recovery, Rejoined } from './recovery.js';
import { type Capabilities, type RelayClient, signalOpt } from './relay-client.js';
import type { RequestBudget } from './request-budget.js';
import type { SessionRegistry } from './session-registry.js';
import { type SessionInfo, sessionLabel, toSessionInfo } from './sessions.js';
import type { SessionStore, StoredSession } from './store.js';

export const DEFAULT_POLL_LIMIT = 50;
/** The most messages one poll returns per session; larger limits are clamped to it. */
export const MAX_POLL_LIMIT = 200;
/** Pages read at most to find the last messages of a session (`last`). */
const MAX_HISTORY_PAGES = 100;
export const DEFAULT_BUDGET_CHARS = 20_000;
const POLL_ALL_CONCURRENCY = 8;

export interface SendOptions {
  text?: string;
  json?: unknown;
  /** Refuse rather than fold a JSON payload into the text on a text-only relay. */
  strict?: boolean;
  signal?: AbortSignal;
}

export interface SendResult {
  session: SessionInfo;
  id: string;
  cursor: string;
  verified: boolean;
  redacted: number;
  /**
   * `json`: sent natively; `folded`: the payload went into the text (text-only relay);
   * `encrypted`: text and payload went inside an envelope.
   */
  format: 'text' | 'json' | 'folded' | 'encrypted';
  /** The membership had to be recovered first (see recovery.ts). */
  rejoined?: Rejoined;
}

export interface PollOptions {
  /** Replay from here without moving the stored cursor; `"0"` replays everything. */
  after?: string;
  members?: boolean;
  limit?: number;
  /** The last N messages, without moving the read position (overrides `after`). */
  last?: number;
  budgetChars?: number;
  signal?: AbortSignal;
}

/** Cursor ranges (after, through] of one session handed over by one call. */
export interface Delivery {
  sessionId: string;
  ranges: [after: string, through: string][];
}

export interface PollResult {
  session: SessionInfo;
  messages: MessageView[];
  /** The cursor to continue from: the stored cursor now, or the replay's position. */
  cursor: string;
  hasMore: boolean;
  replay: boolean;
  members?: Member[];
  /** What this result handed over, for `giveBack` should the host never receive it. */
  delivery?: Delivery;
  /** The membership had to be recovered first (see recovery.ts). */
  rejoined?: Rejoined;
}

export interface SessionError {
  session: SessionInfo;
  error: NexusError;
}

export interface PollAllResult {
  results: PollResult[];
  /** Sessions that could not be read, or were not asked to keep within the request budget. */
  errors: SessionError[];
  hasMore: boolean;
}

/** A batch fetched but not yet handed over: the caller commits what it shows. */
export interface FetchedBatch {
  session: StoredSession;
  /** The `after` the batch was fetched with; absent for a replay from the very start. */
  after?: string;
  /** Opened, in an encrypted session (e2e-sessions.ts). */
  messages: InboxMessage[];
  nextCursor?: string;
  members?: Member[];
  /** The relay returned as many messages as asked for: there may be more. */
  full: boolean;
  /**
   * Writes the replay guard the batch moved and returns its messages as they show then: run
   * under the read position's lock by the commit (`FetchOptions.deferGuard`).
   */
  settle?: () => InboxMessage[];
}

export interface FetchOptions {
  /** Where to read from; the session's first due position when absent. */
  after?: string | null;
  members?: boolean;
  limit?: number;
  waitMs?: number;
  signal?: AbortSignal;
  /**
   * Leave the replay guard of an encrypted session to the commit (one lock for both): only for
   * batches that go straight to `handOver` with `commit`.
   */
  deferGuard?: boolean;
}

export interface HandOverOptions {
  limit: number;
  budgetChars: number;
  commit: boolean;
}

export interface InboxOptions {
  registry: SessionRegistry;
  store: SessionStore;
  client: RelayClient;
  budget: RequestBudget;
  clock: Clock;
  recovery: Recovery;
  e2e: E2eSessions;
}

export class Inbox {
  private readonly registry: SessionRegistry;
  private readonly store: SessionStore;
  private readonly client: RelayClient;
  private readonly budget: RequestBudget;
  private readonly clock: Clock;
  private readonly recovery: Recovery;
  private readonly e2e: E2eSessions;

  constructor(options: InboxOptions) {
    this.recovery = options.recovery;
    this.e2e = options.e2e;
    this.registry = options.registry;
    this.store = options.store;
    this.client = options.client;
    this.budget = options.budget;
    this.clock = options.clock;
  }

  // ---- send -------------------------------------------------------------------------------

  async send(reference: string, options: SendOptions): Promise<SendResult> {
    const session = this.registry.find(reference);
    if (!options.text && options.json === undefined) {
      throw clientError('invalid_argument', 'A message needs text, a json payload, or both.');
    }
    // Secrets never leave the machine: refused or redacted before anything is sealed or sent.
    const prepared = this.e2e.prepare({
      ...(options.text && { text: options.text }),
      ...(options.json !== undefined && { json: options.json }),
    });
    if (session.e2e) {
      const sent = await this.sendEnvelope(session, 'message', prepared.body, options.signal);
      return { ...sent, redacted: prepared.redacted + sent.redacted };
    }
    const text = prepared.body.text ?? '';
    const json = prepared.body.json;
    let body: SendRequest = { text };
    let format: SendResult['format'] = 'text';
    if (json !== undefined) {
      const capabilities = await this.capabilitiesOf(session.server, options.signal);
      if (capabilities.messageFormat.includes('json')) {
        body = text
          ? { text, json: json as SendRequest['json'] }
          : { json: json as SendRequest['json'] };
        format = 'json';
      } else if (options.strict) {
        throw clientError(
          'json_not_supported',
          `The relay of session ${sessionLabel(session)} accepts text messages only.`,
        );
      } else {
        body = { text: foldJson(text, json) };
        format = 'folded';
      }
    }
    const sent = await this.deliver(session, () => body, options.signal);
    return { ...sent, redacted: prepared.redacted + sent.redacted, format };
  }

  /**
   * Seals a payload as an envelope of `kind` and sends it as a text body: messages of an
   * encrypted session, its greeting (kind 2) and a joiner's hello (kind 3). The payload is
   * already prepared (`E2eSessions.prepare`).
   */
  async sendEnvelope(
    session: StoredSession,
    kind: E2eKind,
    payload: E2ePayload,
    signal?: AbortSignal,
  ): Promise<SendResult> {
    // The sender's agent id is in the AAD: a recovery that rejoined under a fresh id seals again.
    let sealed: { agentId: string; text: string } | undefined;
    const bodyFor = (current: StoredSession): SendRequest => {
      if (sealed?.agentId !== current.agentId) {
        sealed = { agentId: current.agentId, text: this.e2e.seal(current, kind, payload) };
      }
      return { text: sealed.text };
    };
    bodyFor(session);
    return { ...(await this.deliver(session, bodyFor, signal)), format: 'encrypted' };
  }

  /** What every send needs to leave the machine: prepared, as `E2eSessions.prepare` does. */
  prepare<T extends { text?: string; json?: unknown }>(body: T): { body: T; redacted: number } {
    return this.e2e.prepare(body);
  }

  /** Sends `bodyFor(the membership as it stands)`, recovering a lost membership once. */
  private async deliver(
    session: StoredSession,
    bodyFor: (current: StoredSession) => SendRequest,
    signal: AbortSignal | undefined,
  ): Promise<Omit<SendResult, 'format'>> {
    let sender = session;
    const { data } = await this.recovery.run(
      session,
      (current) => {
        sender = current;
        return this.client.send(current, bodyFor(current), signalOpt(signal));
      },
      signal,
    );
    // Our own message must not wake our next wait: step past it when nothing else came between.
    // Nothing durable changes otherwise, so then nothing is locked or written.
    const follows = (position: ReadPosition) =>
      position.returned.length === 0 && BigInt(data.cursor) - 1n === BigInt(position.cursor);
    const seen = this.store.position(sender);
    const cursor = follows(seen)
      ? this.store.movePosition(sender, (position) => {
          if (!follows(position)) return { result: position.cursor };
          const next = { ...position, cursor: data.cursor, lastUsedAt: isoNow(this.clock) };
          return { next, result: next.cursor };
        })
      : seen.cursor;
    const rejoined = this.recovery.take(session.sessionId);
    return {
      session: toSessionInfo({ ...sender, cursor }),
      id: data.id,
      cursor: data.cursor,
      verified: true,
      redacted: data.redacted ?? 0,
      ...(rejoined && { rejoined }),
    };
  }

  // ---- poll -------------------------------------------------------------------------------

  async poll(reference: string, options: PollOptions = {}): Promise<PollResult> {
    const session = this.registry.find(reference);
    if (options.last !== undefined) return this.last(session, options.last, options);
    const replay = options.after !== undefined;
    const limit = options.limit ?? DEFAULT_POLL_LIMIT;
    const batch = await this.fetch(session, {
      ...(replay && { after: replayAfter(options.after) ?? null }),
      ...(options.members !== undefined && { members: options.members }),
      limit,
      ...(options.signal !== undefined && { signal: options.signal }),
      deferGuard: !replay,
    });
    if (options.signal?.aborted) throw cancelled();
    return this.handOver(batch, {
      limit,
      budgetChars: options.budgetChars ?? DEFAULT_BUDGET_CHARS,
      commit: !replay,
    });
  }

  /**
   * Every local session not known to be expired, polled concurrently within each relay's
   * request budget; sessions left out to keep within it are reported as errors
   * (`request_budget`), as are those that failed.
   */
  async pollAll(options: Omit<PollOptions, 'after'> = {}): Promise<PollAllResult> {
    const sessions = this.registry.active();
    const limit = options.limit ?? DEFAULT_POLL_LIMIT;
    const settled = await mapLimit(
      sessions,
      POLL_ALL_CONCURRENCY,
      async (session): Promise<FetchedBatch | SessionError> => {
        const wait = this.budget.take(session.server);
        if (wait > 0) return { session: toSessionInfo(session), error: overBudget(wait) };
        try {
          return await this.fetch(session, {
            ...(options.members !== undefined && { members: options.members }),
            limit,
            ...(options.signal !== undefined && { signal: options.signal }),
            deferGuard: true,
          });
        } catch (error) {
          if (isNexusError(error, 'aborted')) throw error;
          const nexus =
            error instanceof NexusError ? error : clientError('network_error', String(error));
          if (nexus.code === 'rate_limit_exceeded')
            this.budget.pause(session.server, nexus.retryAfterMs ?? 60_000);
          return { session: toSessionInfo(session), error: nexus };
        }
      },
    );
    if (options.signal?.aborted) throw cancelled();
    const errors: SessionError[] = [];
    const batches: FetchedBatch[] = [];
    for (const item of settled) {
      if ('error' in item) errors.push(item);
      else batches.push(item);
    }
    // One budget across all sessions, spent in list order; the commits follow the last await.
    const results = this.handOverAll(batches, {
      limit,
      budgetChars: options.budgetChars ?? DEFAULT_BUDGET_CHARS,
      commit: true,
    });
    return { results, errors, hasMore: results.some((result) => result.hasMore) };
  }

  // ---- the watcher's side -----------------------------------------------------------------

  /** The first cursor after which a session has messages not yet handed over. */
  dueFrom(session: StoredSession): string {
    return dueFrom(this.store.position(session));
  }

  /**
   * Fetches messages without committing anything: from the session's first due position, or
   * from `after` (`null`: from the very start). Marks the session expired when the relay no
   * longer knows it.
   */
  async fetch(session: StoredSession, options: FetchOptions = {}): Promise<FetchedBatch> {
    const after = options.after === undefined ? this.dueFrom(session) : options.after;
    let reader = session;
    const { data } = await this.recovery.run(
      session,
      (current) => {
        reader = current;
        return this.client.poll(
          current,
          {
            ...(after !== null && { after }),
            ...(options.members && { members: true }),
            ...(options.limit !== undefined && { limit: options.limit + 1 }),
            ...(options.waitMs !== undefined && { waitMs: options.waitMs }),
          },
          signalOpt(options.signal),
        );
      },
      options.signal,
    );
    const sorted = [...data.messages].sort((a, b) => compareCursors(a.cursor, b.cursor));
    // Decrypted in cursor order, so the replay guard judges each message once.
    const opened = options.deferGuard
      ? this.e2e.openPending(reader, sorted)
      : { messages: this.e2e.open(reader, sorted) };
    const { messages } = opened;
    return {
      ...(opened.settle && { settle: opened.settle }),
      session: reader,
      ...(after !== null && { after }),
      messages,
      ...(data.nextCursor !== undefined && { nextCursor: data.nextCursor }),
      ...(data.members !== undefined && { members: data.members }),
      full: options.limit !== undefined && messages.length > options.limit,
    };
  }

  /** True when the batch holds messages due for this session (not yet handed over). */
  hasDue(batch: FetchedBatch): boolean {
    const position = this.store.position(batch.session);
    return batch.messages.some((message) => isDue(position, message.cursor));
  }

  /**
   * When every due message in the batch is this agent's own, steps past them (our own words must
   * not wake our wait) and returns true.
   */
  skipOwn(batch: FetchedBatch): boolean {
    const { session } = batch;
    return this.store.movePosition(session, (position) => {
      const due = batch.messages.filter((message) => isDue(position, message.cursor));
      const last = due.at(-1)?.cursor;
      const onlyOwn =
        last !== undefined &&
        due.every(
          (message) =>
            message.hidden || (message.agentId === session.agentId && !isGreeting(message)),
        );
      if (!onlyOwn || !startsBefore(batch, position)) return { result: false };
      return { next: advance(position, last, isoNow(this.clock)), result: true };
    });
  }

  /**
   * Turns a fetched batch into what the caller shows, within the count and size limits, and
   * (when `commit`) moves the read position past it in one compare-and-advance step.
   * Synchronous on purpose: callers run it after their last await (see the commit rule above).
   */
  handOver(batch: FetchedBatch, options: HandOverOptions): PollResult {
    return this.handOverAll([batch], options)[0] as PollResult;
  }

  /** Gives handed-over messages back: the host never received them (the commit rule, 2). */
  giveBack(deliveries: readonly Delivery[]): void {
    for (const delivery of deliveries) {
      const session = this.registry.get(delivery.sessionId);
      if (!session) continue;
      this.store.movePosition(session, (position) => ({
        next: { ...position, returned: mergeRanges([...position.returned, ...delivery.ranges]) },
        result: undefined,
      }));
    }
  }

  /** Whether a relay has answered this process before: then losing it is an outage. */
  relayAnswered(server: string): boolean {
    return this.client.answered(server);
  }

  capabilitiesOf(server: string, signal?: AbortSignal): Promise<Capabilities> {
    return this.client.capabilities(server, signalOpt(signal));
  }

  /**
   * The last `count` messages of a session (the greeting aside), read forward from a little
   * before the read position and, when that holds fewer, from the start; nothing moves.
   */
  private async last(
    session: StoredSession,
    count: number,
    options: PollOptions,
  ): Promise<PollResult> {
    const want = Math.min(Math.max(1, Math.trunc(count)), MAX_POLL_LIMIT);
    const position = this.store.position(session);
    const guess = BigInt(position.cursor) - BigInt(want);
    let tail: InboxMessage[] = [];
    let scanned: FetchedBatch | undefined;
    for (const start of guess > 0n ? [guess.toString(), '0'] : ['0']) {
      tail = [];
      let after = start;
      for (let page = 0; page < MAX_HISTORY_PAGES; page++) {
        scanned = await this.fetch(session, {
          after,
          limit: MAX_POLL_LIMIT,
          ...(page === 0 && options.members !== undefined && { members: options.members }),
          ...(options.signal !== undefined && { signal: options.signal }),
        });
        tail = [
          ...tail,
          ...scanned.messages.filter((message) => !isGreeting(message) && !message.hidden),
        ].slice(-want);
        const newest = scanned.messages.at(-1)?.cursor;
        if (!scanned.full || newest === undefined) break;
        after = newest;
      }
      if (tail.length >= want) break;
    }
    if (options.signal?.aborted) throw cancelled();
    const first = tail[0]?.cursor;
    const batch: FetchedBatch = {
      session: scanned?.session ?? session,
      after: first === undefined ? position.cursor : (BigInt(first) - 1n).toString(),
      messages: tail,
      full: false,
      ...(scanned?.members !== undefined && { members: scanned.members }),
    };
    const result = this.replay(batch, want, options.budgetChars ?? DEFAULT_BUDGET_CHARS);
    return { ...result, cursor: this.store.position(batch.session).cursor };
  }

  // ---- internals --------------------------------------------------------------------------

  /** handOver for several batches; `budgetChars` is shared, spent in batch order. */
  private handOverAll(batches: readonly FetchedBatch[], options: HandOverOptions): PollResult[] {
    let budget = options.budgetChars;
    return batches.map((batch) => {
      const result = options.commit
        ? this.commit(batch, options.limit, budget)
        : this.replay(batch, options.limit, budget);
      budget -= result.messages.reduce((sum, message) => sum + messageSize(message), 0);
      return result;
    });
  }

  private replay(batch: FetchedBatch, limit: number, budget: number): PollResult {
    const views = batch.messages.map((message) => viewOf(message, context(batch.session)));
    const taken = within(views, limit, budget);
    const rejoined = this.recovery.take(batch.session.sessionId);
    return {
      ...(rejoined && { rejoined }),
      session: toSessionInfo(this.store.withPosition(batch.session)),
      messages: shown(taken),
      cursor: taken.at(-1)?.cursor ?? batch.after ?? GREETING_CURSOR,
      hasMore: taken.length < views.length || batch.full,
      replay: true,
      ...(batch.members !== undefined && { members: batch.members }),
    };
  }

  private commit(batch: FetchedBatch, limit: number, budget: number): PollResult {
    const { session } = batch;
    const rejoined = this.recovery.take(session.sessionId);
    // An empty batch (a quiet poll) takes no lock: positions only move forward, and messages
    // given back meanwhile are handed over by the next call. A batch with messages was fetched
    // from the first due position, so it goes straight to the compare-and-advance.
    const { settle } = batch;
    const result =
      batch.messages.length > 0
        ? this.store.movePosition(session, (position) =>
            this.handOverAt(
              settle ? { ...batch, messages: settle() } : batch,
              position,
              limit,
              budget,
            ),
          )
        : this.handOverAt(batch, this.store.position(session), limit, budget).result;
    return rejoined ? { ...result, rejoined } : result;
  }

  /** The hand-over of a batch from `position`: what is shown, and the position after it. */
  private handOverAt(
    batch: FetchedBatch,
    position: ReadPosition,
    limit: number,
    budget: number,
  ): { next?: ReadPosition; result: PollResult } {
    const { session } = batch;
    const due = dueIn(batch, position) ?? [];
    const views = due.map((message) => viewOf(message, context(session)));
    const taken = within(views, limit, budget);
    const last = taken.at(-1)?.cursor;
    const next = last === undefined ? undefined : advance(position, last, isoNow(this.clock));
    const result: PollResult = {
      session: toSessionInfo({
        ...session,
        cursor: (next ?? position).cursor,
        ...(next?.lastUsedAt !== undefined && { lastUsedAt: next.lastUsedAt }),
      }),
      messages: shown(taken),
      cursor: (next ?? position).cursor,
      hasMore: taken.length < views.length || batch.full,
      replay: false,
      ...(batch.members !== undefined && { members: batch.members }),
      ...(last !== undefined && {
        delivery: { sessionId: session.sessionId, ranges: delivered(position, last) },
      }),
    };
    return { ...(next && { next }), result };
  }
}

function context(session: StoredSession) {
  return {
    label: sessionLabel(session),
    agentId: session.agentId,
    ...(session.creatorAgentId !== undefined && { creatorAgentId: session.creatorAgentId }),
  };
}

type HeldView = MessageView & { hidden?: true };

/** A hidden message takes no room but still moves the read position past it. */
function viewOf(message: InboxMessage, ctx: ReturnType<typeof context>): HeldView {
  return message.hidden
    ? { ...toMessageView({ ...message, text: '' }, ctx), hidden: true }
    : toMessageView(message, ctx);
}

function shown(views: readonly HeldView[]): MessageView[] {
  return views.filter((view) => !view.hidden);
}

/** At most `limit` messages, then as many as fit the budget (a shared budget may be spent). */
function within<T extends MessageView>(views: readonly T[], limit: number, budget: number): T[] {
  return budget > 0 ? takeWithinBudget(views.slice(0, limit), budget).taken : [];
}

function dueFrom(position: ReadPosition): string {
  const first = position.returned[0]?.[0];
  return first !== undefined && compareCursors(first, position.cursor) < 0
    ? first
    : position.cursor;
}

function isDue(position: ReadPosition, cursor: string): boolean {
  if (compareCursors(cursor, position.cursor) > 0) return true;
  return position.returned.some(
    ([after, through]) => compareCursors(cursor, after) > 0 && compareCursors(cursor, through) <= 0,
  );
}

/**
 * The batch's messages due from `position`; none when the batch was fetched from past a due
 * message, as handing it over would leave a gap.
 */
function dueIn(batch: FetchedBatch, position: ReadPosition): InboxMessage[] | undefined {
  if (!startsBefore(batch, position)) return undefined;
  const due = batch.messages.filter((message) => isDue(position, message.cursor));
  return due.length > 0 ? due : undefined;
}

/** The batch covers everything due: it was fetched from at or before the first due position. */
function startsBefore(batch: FetchedBatch, position: ReadPosition): boolean {
  return batch.after === undefined || compareCursors(batch.after, dueFrom(position)) <= 0;
}

/** The position after handing over every due message up to `last`. */
function advance(position: ReadPosition, last: string, now: string): ReadPosition {
  const returned = position.returned.flatMap(([after, through]): [string, string][] => {
    if (compareCursors(through, last) <= 0) return [];
    return compareCursors(after, last) < 0 ? [[last, through]] : [[after, through]];
  });
  return { cursor: maxCursor(position.cursor, last), returned, lastUsedAt: now };
}

/** The ranges a hand-over up to `last` covered. */
function delivered(position: ReadPosition, last: string): [string, string][] {
  const ranges = position.returned
    .filter(([after]) => compareCursors(after, last) < 0)
    .map(([after, through]): [string, string] => [
      after,
      compareCursors(through, last) < 0 ? through : last,
    ]);
  if (compareCursors(last, position.cursor) > 0) ranges.push([position.cursor, last]);
  return ranges;
}

function mergeRanges(ranges: [string, string][]): [string, string][] {
  const sorted = [...ranges].sort((a, b) => compareCursors(a[0], b[0]));
  const merged: [string, string][] = [];
  for (const [after, through] of sorted) {
    const previous = merged.at(-1);
    if (previous && compareCursors(after, previous[1]) <= 0) {
      previous[1] = maxCursor(previous[1], through);
    } else merged.push([after, through]);
  }
  return merged;
}

function cancelled(): NexusError {
  return clientError('aborted', 'The poll was cancelled; no cursor moved.');
}

function overBudget(waitMs: number): NexusError {
  return clientError(
    'request_budget',
    `Not polled this time, to keep within the relay's request limit; it can be polled again in ${Math.ceil(waitMs / 1000)} s.`,
    { retryAfterMs: waitMs },
  );
}

/** `after: "0"` means "everything, greeting included": the protocol's way is to omit `after`. */
function replayAfter(after: string | undefined): string | undefined {
  if (after === undefined) return undefined;
  const trimmed = after.trim();
  if (!isCursor(trimmed)) {
    throw clientError(
      'invalid_argument',
      `after must be a cursor, a whole number of at least 0 like 42 or "42" (got ${cutReference(after)}).`,
    );
  }
  return trimmed === '0' ? undefined : trimmed;
}

function foldJson(text: string, json: unknown): string {
  const block = `\`\`\`json\n${JSON.stringify(json, null, 2)}\n\`\`\``;
  return text ? `${text}\n\n${block}` : block;
}
