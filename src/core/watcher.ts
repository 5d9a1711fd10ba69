/**
 * The watcher: one background loop per watched session, serving everyone who waits for
 * messages there and everyone subscribed to it, with one poll at a time per session.
 *
 * - Waiters want messages after the stored cursor; handing a batch over moves that cursor.
 * - Subscribers want to hear that something new arrived, without consuming it: the loop keeps
 *   its own in-memory cursor (`peek`) for them.
 * - On relays with the long-poll extension each iteration is one held request that returns on
 *   the first message; elsewhere it polls on an adaptive interval.
 * - A loop stops as soon as nobody waits or subscribes, aborting its in-flight request.
 */
import { EventEmitter } from 'node:events';
import { compareCursors } from '../protocol/index.js';
import { delay } from './clock.js';
import { clientError, NexusError } from './errors.js';
import type { Logger } from './logger.js';
import type { FetchedBatch, PollResult, SessionManager } from './manager.js';
import { DEFAULT_BUDGET_CHARS, DEFAULT_POLL_LIMIT } from './manager.js';
import { isGreeting } from './messages.js';
import { type SessionInfo, sessionLabel, toSessionInfo } from './sessions.js';
import type { StoredSession } from './store.js';

/** How long one long-poll request is held; below the relay's 30 s cap. */
export const LONG_POLL_MS = 25_000;
const MAX_IDLE_INTERVAL_MS = 10_000;
const MAX_ERROR_BACKOFF_MS = 10_000;
/** Errors after which polling a session again cannot help. */
const TERMINAL_CODES = new Set([
  'session_not_found',
  'agent_not_in_session',
  'forbidden',
  'unknown_session',
]);

export interface WatcherOptions {
  manager: SessionManager;
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
  /** Sessions dropped from the wait because polling them failed for good. */
  errors: { session: SessionInfo; error: NexusError }[];
  /** Every session the wait watched and that did not fail, as stored when it ended. */
  sessions: SessionInfo[];
}

type WatcherEvents = {
  /** New messages arrived in a subscribed session (not consumed). */
  updated: [session: SessionInfo];
};

interface Waiter {
  deliver(sessionId: string, batch: FetchedBatch): void;
  fail(sessionId: string, error: NexusError): void;
}

export class Watcher {
  readonly events = new EventEmitter<WatcherEvents>();
  private readonly watches = new Map<string, SessionWatch>();
  private readonly manager: SessionManager;
  private readonly logger: Logger;
  private readonly pollIntervalMs: number;
  private readonly longPollMs: number;
  private closed = false;

  constructor(options: WatcherOptions) {
    this.manager = options.manager;
    this.logger = options.logger;
    this.pollIntervalMs = options.pollIntervalMs;
    this.longPollMs = options.longPollMs ?? LONG_POLL_MS;
  }

  /**
   * Resolves as soon as one of the sessions has messages from another agent after its stored
   * cursor (and hands them over, moving the cursor), or with `timedOut` when none came. A
   * cancelled wait rejects with `aborted` and moves nothing.
   */
  async waitForMessages(options: WaitOptions): Promise<WaitResult> {
    if (this.closed) throw clientError('aborted', 'The server is shutting down.');
    const targets = options.sessions
      ? unique(options.sessions.map((reference) => this.manager.resolve(reference)))
      : this.manager.store.all().filter((session) => !session.expiredAt);
    if (targets.length === 0) {
      throw clientError(
        'unknown_session',
        'There are no active local sessions to wait on: create one, join one, or claim a pairing code.',
      );
    }
    const errors: WaitResult['errors'] = [];
    const limit = options.limit ?? DEFAULT_POLL_LIMIT;
    const budgetChars = options.budgetChars ?? DEFAULT_BUDGET_CHARS;
    const deadline = Date.now() + options.timeoutMs;

    for (;;) {
      const remaining = deadline - Date.now();
      const pending = targets.filter(
        (session) => !errors.some((failed) => failed.session.sessionId === session.sessionId),
      );
      if (pending.length === 0) {
        const first = errors[0];
        if (first && errors.length === 1) throw first.error;
        return { results: [], timedOut: false, errors, sessions: this.current(targets, errors) };
      }
      if (remaining <= 0) {
        return { results: [], timedOut: true, errors, sessions: this.current(targets, errors) };
      }
      const outcome = await this.waitOnce(
        pending.map((session) => session.sessionId),
        remaining,
        options.signal,
      );
      // Nothing asynchronous from here to the commit: a cancellation cannot lose messages.
      if (options.signal?.aborted)
        throw clientError('aborted', 'The wait was cancelled; no cursor moved.');
      if (outcome.kind === 'timeout') {
        return { results: [], timedOut: true, errors, sessions: this.current(targets, errors) };
      }
      if (outcome.kind === 'failed') {
        const session = targets.find((target) => target.sessionId === outcome.sessionId);
        if (session) errors.push({ session: toSessionInfo(session), error: outcome.error });
        continue;
      }
      const result = this.manager.handOver(outcome.batch, { limit, budgetChars, commit: true });
      // Another reader (a poll, another process on the same store) may have taken them first.
      if (result.messages.some((message) => !message.own)) {
        return {
          results: [result],
          timedOut: false,
          errors,
          sessions: this.current(targets, errors),
        };
      }
    }
  }

  /** The watched sessions that did not fail, as stored now (skipping own messages moves them). */
  private current(targets: readonly StoredSession[], errors: WaitResult['errors']): SessionInfo[] {
    const failed = new Set(errors.map((error) => error.session.sessionId));
    return targets
      .filter((target) => !failed.has(target.sessionId))
      .map((target) => toSessionInfo(this.manager.store.get(target.sessionId) ?? target));
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
        manager: this.manager,
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
  manager: SessionManager;
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
    const { manager, pollIntervalMs, longPollMs } = this.options;
    let idleInterval = pollIntervalMs;
    let errorBackoff = 1_000;
    while (this.wanted) {
      const session = manager.store.get(this.sessionId);
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
      const controller = new AbortController();
      this.iteration = controller;
      let pause = 0;
      try {
        const capabilities = await manager.capabilitiesOf(session.server, controller.signal);
        // Subscribers hear of anything past what was read when they subscribed.
        this.peek ??= session.cursor;
        let after = this.peek;
        if (this.waiters.size > 0 && compareCursors(session.cursor, after) < 0)
          after = session.cursor;
        const hold = capabilities.longPoll ? longPollMs : 0;
        const batch = await manager.fetch(session, {
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
        if (nexus.code === 'network_error' || nexus.code === 'timeout') {
          if (!this.unreachable) {
            this.unreachable = true;
            this.options.logger.warn(
              `The relay of session ${sessionLabel(session)} is unreachable: ${nexus.message}`,
            );
          }
          // A waiter hears at once rather than at its timeout; subscribers keep trying.
          this.failAll(nexus);
        } else if (nexus.code === 'rate_limit_exceeded') {
          this.options.logger.warn(
            `The relay of session ${sessionLabel(session)} is rate limiting; backing off.`,
          );
        }
        pause = Math.max(nexus.retryAfterMs ?? errorBackoff, pollIntervalMs);
        errorBackoff = Math.min(errorBackoff * 2, MAX_ERROR_BACKOFF_MS);
      } finally {
        if (this.iteration === controller) this.iteration = undefined;
      }
      if (pause > 0 && this.wanted) {
        const sleeper = new AbortController();
        this.iteration = sleeper;
        await delay(pause, sleeper.signal).catch(() => undefined);
        if (this.iteration === sleeper) this.iteration = undefined;
      }
    }
  }

  private notifySubscribers(session: { sessionId: string }, batch: FetchedBatch): void {
    const newest = batch.messages.at(-1)?.cursor;
    if (newest !== undefined && this.peek !== undefined && compareCursors(newest, this.peek) > 0) {
      this.peek = newest;
      const current = this.options.manager.store.get(session.sessionId);
      if (this.subscribed && current) this.options.onUpdated(toSessionInfo(current));
    }
  }

  /** True when the batch went to the waiters (or was only our own messages, now skipped). */
  private offerToWaiters(batch: FetchedBatch): boolean {
    const current = this.options.manager.store.get(this.sessionId);
    if (!current) return false;
    const unread = batch.messages.filter(
      (message) => compareCursors(message.cursor, current.cursor) > 0,
    );
    if (unread.length === 0) return false;
    const onlyOwn = unread.every(
      (message) => message.agentId === current.agentId && !isGreeting(message),
    );
    if (onlyOwn) {
      // Our own words must not wake us: step past them and keep waiting.
      const last = unread.at(-1);
      if (last) this.options.manager.store.advanceCursor(this.sessionId, last.cursor);
      return true;
    }
    for (const waiter of [...this.waiters]) waiter.deliver(this.sessionId, batch);
    return true;
  }

  private failAll(error: NexusError): void {
    for (const waiter of [...this.waiters]) waiter.fail(this.sessionId, error);
  }
}

function unique<T extends { sessionId: string }>(sessions: T[]): T[] {
  const seen = new Set<string>();
  return sessions.filter((session) => !seen.has(session.sessionId) && seen.add(session.sessionId));
}
