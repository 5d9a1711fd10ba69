/**
 * The watcher: one background loop per watched session, serving everyone who waits for
 * messages there and everyone subscribed to it, with one poll at a time per session.
 *
 * - Waiters want messages not yet handed over; the inbox hands a batch over (inbox.ts).
 * - Subscribers want to hear that something new arrived, without consuming it: the loop keeps
 *   its own in-memory cursor (`peek`) for them.
 * - On relays with the long-poll extension each iteration is one held request that returns on
 *   the first message; elsewhere it polls on an adaptive interval.
 * - A loop stops as soon as nobody waits or subscribes, aborting its in-flight request.
 * - Failures reach the waiters: a session that is gone, or a relay never reached, drops the
 *   session from the wait at once; other failures (429, 5xx, a proxy's page, and a relay that
 *   answered before and now cannot be reached: most likely restarting) are retried with back-off
 *   within the wait's time limit and reported when it ends. A wait whose every session is
 *   failing says so.
 */
import { EventEmitter } from 'node:events';
import { compareCursors } from '../protocol/index.js';
import { type Clock, delay } from './clock.js';
import { clientError, NexusError, type NexusErrorCode } from './errors.js';
import {
  DEFAULT_BUDGET_CHARS,
  DEFAULT_POLL_LIMIT,
  type FetchedBatch,
  type Inbox,
  type PollResult,
  type SessionError,
} from './inbox.js';
import type { Logger } from './logger.js';
import type { RequestBudget } from './request-budget.js';
import type { SessionRegistry } from './session-registry.js';
import { type SessionInfo, sessionLabel, toSessionInfo } from './sessions.js';
import type { StoredSession } from './store.js';

/** How long one long-poll request is held; below the relay's 30 s cap. */
const LONG_POLL_MS = 25_000;
const MAX_IDLE_INTERVAL_MS = 10_000;
const MAX_ERROR_BACKOFF_MS = 10_000;
/** Errors after which polling a session again cannot help (the last two: a rejoin that failed). */
const TERMINAL_CODES = new Set<NexusErrorCode>([
  'session_not_found',
  'agent_not_in_session',
  'forbidden',
  'unknown_session',
  'session_full',
  'agent_id_taken',
]);

export interface WatcherOptions {
  registry: SessionRegistry;
  inbox: Inbox;
  budget: RequestBudget;
  clock: Clock;
  logger: Logger;
  /** Floor of the adaptive interval on relays without long-poll. */
  pollIntervalMs: number;
  longPollMs?: number;
}

export interface WaitOptions {
  /** Session references; all local sessions not known to be expired when absent. */
  sessions?: string[];
  timeoutMs: number;
  signal?: AbortSignal;
  limit?: number;
  budgetChars?: number;
}

export interface WaitResult {
  /** The sessions that had messages (usually one: the wait returns on the first). */
  results: PollResult[];
  timedOut: boolean;
  /** Sessions dropped from the wait, or still failing when it ended. */
  errors: SessionError[];
  /** Every watched session failed: the wait ended for that reason, not a quiet timeout. */
  allFailed: boolean;
  /** Every session the wait watched and that did not fail, as stored when it ended. */
  sessions: SessionInfo[];
}

type WatcherEvents = {
  /** New messages arrived in a subscribed session (not consumed). */
  updated: [session: SessionInfo];
};

interface Waiter {
  deliver(sessionId: string, batch: FetchedBatch): void;
  /** The session cannot be read any more: drop it from the wait. */
  fail(sessionId: string, error: NexusError): void;
  /** The latest attempt failed (an error) or worked (undefined); the loop keeps trying. */
  note(sessionId: string, error: NexusError | undefined): void;
}

export class Watcher {
  readonly events = new EventEmitter<WatcherEvents>();
  private readonly watches = new Map<string, SessionWatch>();
  private readonly registry: SessionRegistry;
  private readonly inbox: Inbox;
  private readonly budget: RequestBudget;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly longPollMs: number;
  private closed = false;

  constructor(options: WatcherOptions) {
    this.registry = options.registry;
    this.inbox = options.inbox;
    this.budget = options.budget;
    this.clock = options.clock;
    this.logger = options.logger;
    this.pollIntervalMs = options.pollIntervalMs;
    this.longPollMs = options.longPollMs ?? LONG_POLL_MS;
  }

  /**
   * Resolves as soon as one of the sessions has messages from another agent not yet handed over
   * (and hands them over through the inbox), or with `timedOut` when none came, or with
   * `allFailed` when every session failed. A cancelled wait rejects with `aborted` and moves
   * nothing.
   */
  async waitForMessages(options: WaitOptions): Promise<WaitResult> {
    if (this.closed) throw clientError('aborted', 'The server is shutting down.');
    const targets = options.sessions
      ? unique(options.sessions.map((reference) => this.registry.resolve(reference)))
      : this.registry.active();
    if (targets.length === 0) {
      throw clientError(
        'unknown_session',
        'There are no active local sessions to wait on: create one, join one, or claim a pairing code.',
      );
    }
    const dropped: SessionError[] = [];
    const failing = new Map<string, NexusError>();
    const limit = options.limit ?? DEFAULT_POLL_LIMIT;
    const budgetChars = options.budgetChars ?? DEFAULT_BUDGET_CHARS;
    const deadline = this.clock.now() + options.timeoutMs;
    const end = (timedOut: boolean): WaitResult => {
      const errors = [
        ...dropped,
        ...targets
          .filter((target) => failing.has(target.sessionId))
          .map((target) => ({
            session: toSessionInfo(target),
            error: failing.get(target.sessionId) as NexusError,
          })),
      ];
      const allFailed = errors.length === targets.length;
      return {
        results: [],
        timedOut: timedOut && !allFailed,
        errors,
        allFailed,
        sessions: this.current(targets, dropped),
      };
    };

    for (;;) {
      const remaining = deadline - this.clock.now();
      const pending = targets.filter(
        (session) => !dropped.some((failed) => failed.session.sessionId === session.sessionId),
      );
      if (pending.length === 0) {
        const first = dropped[0];
        if (first && dropped.length === 1) throw first.error;
        return end(false);
      }
      if (remaining <= 0) return end(true);
      const outcome = await this.waitOnce(
        pending.map((session) => session.sessionId),
        remaining,
        failing,
        options.signal,
      );
      // Nothing asynchronous from here to the hand-over: a cancellation cannot lose messages.
      if (options.signal?.aborted)
        throw clientError('aborted', 'The wait was cancelled; no cursor moved.');
      if (outcome.kind === 'timeout') return end(true);
      if (outcome.kind === 'failed') {
        const session = targets.find((target) => target.sessionId === outcome.sessionId);
        failing.delete(outcome.sessionId);
        if (session) dropped.push({ session: toSessionInfo(session), error: outcome.error });
        continue;
      }
      const result = this.inbox.handOver(outcome.batch, { limit, budgetChars, commit: true });
      // Another reader (a poll, another process on the same store) may have taken them first.
      if (result.messages.some((message) => !message.own)) {
        const { errors } = end(false);
        return {
          results: [result],
          timedOut: false,
          errors,
          allFailed: false,
          sessions: this.current(targets, dropped),
        };
      }
    }
  }

  /** The watched sessions that were not dropped, as stored now (skipping own messages moves them). */
  private current(
    targets: readonly StoredSession[],
    dropped: readonly SessionError[],
  ): SessionInfo[] {
    const failed = new Set(dropped.map((error) => error.session.sessionId));
    return targets
      .filter((target) => !failed.has(target.sessionId))
      .map((target) => toSessionInfo(this.registry.get(target.sessionId) ?? target));
  }

  subscribe(sessionId: string): void {
    if (this.closed) return;
    this.watch(sessionId).setSubscribed(true);
  }

  unsubscribe(sessionId: string): void {
    this.watches.get(sessionId)?.setSubscribed(false);
  }

  /** Number of sessions with a running loop: zero when nobody waits or subscribes. */
  activeLoops(): number {
    return [...this.watches.values()].filter((watch) => watch.running).length;
  }

  /** Rejects every wait with `aborted` and stops every loop. */
  async close(): Promise<void> {
    this.closed = true;
    const watches = [...this.watches.values()];
    for (const watch of watches) watch.close();
    await Promise.all(watches.map((watch) => watch.done()));
    this.watches.clear();
  }

  private waitOnce(
    sessionIds: string[],
    timeoutMs: number,
    failing: Map<string, NexusError>,
    signal: AbortSignal | undefined,
  ): Promise<
    | { kind: 'batch'; batch: FetchedBatch }
    | { kind: 'timeout' }
    | { kind: 'failed'; sessionId: string; error: NexusError }
  > {
    return new Promise((resolve, reject) => {
      const watches = sessionIds.map((sessionId) => this.watch(sessionId));
      let settled = false;
      const finish = () => {
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        for (const watch of watches) watch.removeWaiter(waiter);
      };
      const waiter: Waiter = {
        deliver: (_sessionId, batch) => {
          if (settled) return;
          finish();
          resolve({ kind: 'batch', batch });
        },
        fail: (sessionId, error) => {
          if (settled) return;
          finish();
          resolve({ kind: 'failed', sessionId, error });
        },
        note: (sessionId, error) => {
          if (error) failing.set(sessionId, error);
          else failing.delete(sessionId);
        },
      };
      const onAbort = () => {
        if (settled) return;
        finish();
        reject(clientError('aborted', 'The wait was cancelled; no cursor moved.'));
      };
      const timer = setTimeout(() => {
        if (settled) return;
        finish();
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      for (const watch of watches) watch.addWaiter(waiter);
    });
  }

  private watch(sessionId: string): SessionWatch {
    let watch = this.watches.get(sessionId);
    if (!watch) {
      watch = new SessionWatch(sessionId, {
        registry: this.registry,
        inbox: this.inbox,
        budget: this.budget,
        logger: this.logger,
        pollIntervalMs: this.pollIntervalMs,
        longPollMs: this.longPollMs,
        onUpdated: (session) => this.events.emit('updated', session),
      });
      this.watches.set(sessionId, watch);
    }
    return watch;
  }
}

interface SessionWatchOptions {
  registry: SessionRegistry;
  inbox: Inbox;
  budget: RequestBudget;
  logger: Logger;
  pollIntervalMs: number;
  longPollMs: number;
  onUpdated: (session: SessionInfo) => void;
}

class SessionWatch {
  private readonly waiters = new Set<Waiter>();
  private subscribed = false;
  /** The subscribers' cursor: the newest message this loop has seen. */
  private peek: string | undefined;
  private loop: Promise<void> | undefined;
  private iteration: AbortController | undefined;
  private closed = false;
  private unreachable = false;

  constructor(
    readonly sessionId: string,
    private readonly options: SessionWatchOptions,
  ) {}

  get running(): boolean {
    return this.loop !== undefined;
  }

  private get wanted(): boolean {
    return !this.closed && (this.waiters.size > 0 || this.subscribed);
  }

  addWaiter(waiter: Waiter): void {
    this.waiters.add(waiter);
    // A waiter may need messages from further back than the subscribers' cursor.
    this.iteration?.abort();
    this.ensureRunning();
  }

  removeWaiter(waiter: Waiter): void {
    if (this.waiters.delete(waiter) && !this.wanted) this.iteration?.abort();
  }

  setSubscribed(subscribed: boolean): void {
    this.subscribed = subscribed;
    if (subscribed) this.ensureRunning();
    else if (!this.wanted) this.iteration?.abort();
  }

  close(): void {
    this.closed = true;
    this.iteration?.abort();
    const error = clientError('aborted', 'The server is shutting down.');
    for (const waiter of [...this.waiters]) waiter.fail(this.sessionId, error);
  }

  done(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  private ensureRunning(): void {
    if (this.loop || !this.wanted) return;
    this.loop = this.run()
      .catch((error: unknown) => {
        this.options.logger.error(
          `The watcher loop stopped unexpectedly: ${error instanceof Error ? error.message : String(error)}`,
        );
      })
      .finally(() => {
        this.loop = undefined;
        // Someone may have arrived while the loop was winding down.
        if (this.wanted) this.ensureRunning();
      });
  }

  private async run(): Promise<void> {
    const { registry, inbox, budget, pollIntervalMs, longPollMs } = this.options;
    let idleInterval = pollIntervalMs;
    let errorBackoff = 1_000;
    while (this.wanted) {
      const session = registry.get(this.sessionId);
      if (!session || session.expiredAt) {
        this.failAll(
          session
            ? clientError(
                'session_expired',
                `Session ${sessionLabel(session)} has expired on its relay.`,
              )
            : clientError('unknown_session', 'The session is no longer in the local store.'),
        );
        this.subscribed = false;
        return;
      }
      // Within the relay's request budget: wait for a turn rather than spend it all.
      const turn = budget.take(session.server);
      if (turn > 0) {
        await this.pause(turn);
        continue;
      }
      const controller = new AbortController();
      this.iteration = controller;
      let pause = 0;
      try {
        const capabilities = await inbox.capabilitiesOf(session.server, controller.signal);
        // Subscribers hear of anything past what was read when they subscribed.
        const due = inbox.dueFrom(session);
        this.peek ??= due;
        let after = this.peek;
        if (this.waiters.size > 0 && compareCursors(due, after) < 0) after = due;
        const hold = capabilities.longPoll ? longPollMs : 0;
        const batch = await inbox.fetch(session, {
          after,
          waitMs: hold,
          signal: controller.signal,
        });
        if (this.unreachable) {
          this.unreachable = false;
          this.options.logger.info(
            `The relay of session ${sessionLabel(session)} is reachable again.`,
          );
        }
        errorBackoff = 1_000;
        this.noteAll(undefined);
        this.notifySubscribers(session, batch);
        const active = batch.messages.length > 0;
        // This pause is the current interval and only the next one grows, so a quiet session is
        // polled at the floor first (0, 1×, 2.5×, 4.75×… the floor), not at 1.5× it.
        const interval = active ? pollIntervalMs : idleInterval;
        idleInterval = active
          ? pollIntervalMs
          : Math.min(
              Math.round(idleInterval * 1.5),
              Math.max(pollIntervalMs, MAX_IDLE_INTERVAL_MS),
            );
        if (this.waiters.size > 0 && this.offerToWaiters(batch)) continue;
        if (!capabilities.longPoll) pause = interval;
      } catch (error) {
        if (controller.signal.aborted) continue;
        const nexus =
          error instanceof NexusError ? error : clientError('network_error', String(error));
        if (TERMINAL_CODES.has(nexus.code)) {
          this.failAll(nexus);
          this.subscribed = false;
          return;
        }
        if (nexus.code === 'rate_limit_exceeded' || nexus.code === 'request_budget')
          budget.pause(session.server, nexus.retryAfterMs ?? errorBackoff);
        if (nexus.code === 'network_error' || nexus.code === 'timeout') {
          if (!this.unreachable) {
            this.unreachable = true;
            this.options.logger.warn(
              `The relay of session ${sessionLabel(session)} is unreachable: ${nexus.message}`,
            );
          }
          // A relay known to work is waited out (a restart costs nothing); one never reached is
          // reported at once rather than at the wait's timeout. Subscribers keep trying.
          if (inbox.relayAnswered(session.server)) this.noteAll(nexus);
          else this.failAll(nexus);
        } else {
          if (nexus.code === 'rate_limit_exceeded') {
            this.options.logger.warn(
              `The relay of session ${sessionLabel(session)} is rate limiting; backing off.`,
            );
          }
          // Waiters hear of it, and of the retry that works; the wait reports what still fails.
          this.noteAll(nexus);
        }
        pause = Math.max(nexus.retryAfterMs ?? errorBackoff, pollIntervalMs);
        errorBackoff = Math.min(errorBackoff * 2, MAX_ERROR_BACKOFF_MS);
      } finally {
        if (this.iteration === controller) this.iteration = undefined;
      }
      if (pause > 0) await this.pause(pause);
    }
  }

  /** Sleeps up to `ms`, cut short when the loop is no longer wanted or a waiter arrives. */
  private async pause(ms: number): Promise<void> {
    if (!this.wanted) return;
    const sleeper = new AbortController();
    this.iteration = sleeper;
    await delay(ms, sleeper.signal).catch(() => undefined);
    if (this.iteration === sleeper) this.iteration = undefined;
  }

  private notifySubscribers(session: { sessionId: string }, batch: FetchedBatch): void {
    const newest = batch.messages.at(-1)?.cursor;
    if (newest !== undefined && this.peek !== undefined && compareCursors(newest, this.peek) > 0) {
      this.peek = newest;
      const current = this.options.registry.get(session.sessionId);
      if (this.subscribed && current) this.options.onUpdated(toSessionInfo(current));
    }
  }

  /** True when the batch went to the waiters (or was only our own messages, now skipped). */
  private offerToWaiters(batch: FetchedBatch): boolean {
    const { inbox } = this.options;
    if (!inbox.hasDue(batch)) return false;
    // Our own words must not wake us: step past them and keep waiting.
    if (inbox.skipOwn(batch)) return true;
    for (const waiter of [...this.waiters]) waiter.deliver(this.sessionId, batch);
    return true;
  }

  private noteAll(error: NexusError | undefined): void {
    for (const waiter of [...this.waiters]) waiter.note(this.sessionId, error);
  }

  private failAll(error: NexusError): void {
    for (const waiter of [...this.waiters]) waiter.fail(this.sessionId, error);
  }
}

function unique<T extends { sessionId: string }>(sessions: T[]): T[] {
  const seen = new Set<string>();
  return sessions.filter((session) => !seen.has(session.sessionId) && seen.add(session.sessionId));
}
