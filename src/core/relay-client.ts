/**
 * The NexusMessaging protocol's operations, one method each, over the HTTP transport
 * (http-transport.ts: connections, timeouts, retries, errors).
 */
import type { z } from 'zod';
import {
  ClaimResponse,
  type CreateSessionRequest,
  CreateSessionResponse,
  HealthResponse,
  JoinResponse,
  LeaveResponse,
  MAX_WAIT_MS,
  PairResponse,
  PairStatusResponse,
  PollResponse,
  RenewResponse,
  type SendRequest,
  SendResponse,
  SessionStatusResponse,
  StatsResponse,
} from '../protocol/index.js';
import { type Clock, systemClock } from './clock.js';
import { NexusError } from './errors.js';
import {
  type CallOptions,
  HttpTransport,
  type RequestSpec,
  type Scrub,
  type TransportOptions,
} from './http-transport.js';
import { shortId } from './sessions.js';

export type { CallOptions } from './http-transport.js';

const HEALTH_TTL_MS = 5 * 60_000;
const HEALTH_FAILURE_TTL_MS = 30_000;

export type RelayClientOptions = TransportOptions;

export interface Capabilities {
  reachable: boolean;
  version?: string;
  messageFormat: string[];
  longPoll: boolean;
}

/** A session on its relay: what the public session operations need. */
export interface SessionRef {
  server: string;
  sessionId: string;
}

/** An agent in a session: what the operations that name the caller need. */
export interface AgentRef extends SessionRef {
  agentId: string;
}

/** A member with its session key: what signed operations (send, leave) need. */
export interface Credentials extends AgentRef {
  sessionKey: string;
}

export interface PollQuery {
  after?: string;
  members?: boolean;
  /** Long-poll extension: ask the relay to hold the request up to this long. */
  waitMs?: number;
  limit?: number;
}

export class RelayClient {
  private readonly http: HttpTransport;
  private readonly clock: Clock;
  private readonly capabilityCache = new Map<string, { value: Capabilities; until: number }>();
  /** Relays that answered this process: losing one of them is an outage, not a wrong URL. */
  private readonly answering = new Set<string>();

  constructor(options: RelayClientOptions = {}) {
    this.http = new HttpTransport(options);
    this.clock = options.clock ?? systemClock;
  }

  get timeoutMs(): number {
    return this.http.timeoutMs;
  }

  // ---- operations -------------------------------------------------------------------------

  create(server: string, body: CreateSessionRequest, options?: CallOptions) {
    return this.call(
      server,
      {
        method: 'PUT',
        path: '/v1/sessions',
        body,
        schema: CreateSessionResponse,
        idempotent: false,
      },
      options,
    );
  }

  status(session: SessionRef, options?: CallOptions) {
    return this.call(
      session.server,
      {
        method: 'GET',
        path: `/v1/sessions/${enc(session.sessionId)}`,
        schema: SessionStatusResponse,
        idempotent: true,
        scrub: idScrub(session.sessionId),
      },
      options,
    );
  }

  join(member: AgentRef, options?: CallOptions) {
    return this.call(
      member.server,
      {
        method: 'POST',
        path: `/v1/sessions/${enc(member.sessionId)}/join`,
        headers: { 'x-agent-id': member.agentId },
        schema: JoinResponse,
        idempotent: false,
        scrub: idScrub(member.sessionId),
      },
      options,
    );
  }

  leave(credentials: Credentials, options?: CallOptions) {
    const { server, sessionId, agentId, sessionKey } = credentials;
    return this.call(
      server,
      {
        method: 'DELETE',
        path: `/v1/sessions/${enc(sessionId)}/agents/${enc(agentId)}`,
        headers: { 'x-agent-id': agentId, 'x-session-key': sessionKey },
        schema: LeaveResponse,
        idempotent: false,
        scrub: [...idScrub(sessionId), ...keyScrub(sessionKey)],
      },
      options,
    );
  }

  renew(member: AgentRef, ttl: number | undefined, options?: CallOptions) {
    return this.call(
      member.server,
      {
        method: 'POST',
        path: `/v1/sessions/${enc(member.sessionId)}/renew`,
        headers: { 'x-agent-id': member.agentId },
        body: ttl === undefined ? {} : { ttl },
        schema: RenewResponse,
        idempotent: false,
        scrub: idScrub(member.sessionId),
      },
      options,
    );
  }

  send(credentials: Credentials, body: SendRequest, options?: CallOptions) {
    const { server, sessionId, agentId, sessionKey } = credentials;
    return this.call(
      server,
      {
        method: 'POST',
        path: `/v1/sessions/${enc(sessionId)}/messages`,
        headers: { 'x-agent-id': agentId, 'x-session-key': sessionKey },
        body,
        schema: SendResponse,
        idempotent: false,
        scrub: [...idScrub(sessionId), ...keyScrub(sessionKey)],
      },
      options,
    );
  }

  poll(member: AgentRef, query: PollQuery = {}, options?: CallOptions) {
    const waitMs = query.waitMs ? Math.min(Math.max(0, Math.trunc(query.waitMs)), MAX_WAIT_MS) : 0;
    return this.call(
      member.server,
      {
        method: 'GET',
        path: `/v1/sessions/${enc(member.sessionId)}/messages`,
        query: {
          after: query.after,
          members: query.members ? 'true' : undefined,
          waitMs: waitMs > 0 ? String(waitMs) : undefined,
          limit: query.limit === undefined ? undefined : String(query.limit),
        },
        headers: { 'x-agent-id': member.agentId },
        schema: PollResponse,
        idempotent: true,
        holdMs: waitMs,
        scrub: idScrub(member.sessionId),
      },
      options,
    );
  }

  pair(session: SessionRef, options?: CallOptions) {
    return this.call(
      session.server,
      {
        method: 'PUT',
        path: '/v1/pair',
        body: { sessionId: session.sessionId },
        schema: PairResponse,
        idempotent: false,
        scrub: idScrub(session.sessionId),
      },
      options,
    );
  }

  claim(server: string, code: string, agentId: string, options?: CallOptions) {
    return this.call(
      server,
      {
        method: 'POST',
        path: `/v1/pair/${enc(code)}/claim`,
        headers: { 'x-agent-id': agentId },
        schema: ClaimResponse,
        idempotent: false,
      },
      options,
    );
  }

  pairStatus(server: string, code: string, options?: CallOptions) {
    return this.call(
      server,
      {
        method: 'GET',
        path: `/v1/pair/${enc(code)}/status`,
        schema: PairStatusResponse,
        idempotent: true,
      },
      options,
    );
  }

  health(server: string, options?: CallOptions) {
    return this.call(
      server,
      { method: 'GET', path: '/health', schema: HealthResponse, idempotent: true },
      options,
    );
  }

  stats(server: string, options?: CallOptions) {
    return this.call(
      server,
      { method: 'GET', path: '/v1/stats', schema: StatsResponse, idempotent: true },
      options,
    );
  }

  /**
   * What a relay can do, from its /health, cached per server for five minutes. A relay whose
   * /health is missing or unreadable is taken as text-only without long-poll (the live
   * service must keep working), and asked again sooner.
   */
  async capabilities(server: string, options?: CallOptions): Promise<Capabilities> {
    const cached = this.capabilityCache.get(server);
    const now = this.clock.now();
    if (cached && cached.until > now) return cached.value;
    try {
      const { data } = await this.health(server, { attempts: 1, ...options });
      const value: Capabilities = {
        reachable: true,
        ...(data.version !== undefined && { version: data.version }),
        messageFormat: data.capabilities.messageFormat,
        longPoll: data.capabilities.longPoll,
      };
      this.capabilityCache.set(server, { value, until: now + HEALTH_TTL_MS });
      return value;
    } catch (error) {
      if (error instanceof NexusError && error.code === 'aborted') throw error;
      const reachable = !(
        error instanceof NexusError &&
        (error.code === 'network_error' || error.code === 'timeout')
      );
      const value: Capabilities = { reachable, messageFormat: ['text'], longPoll: false };
      this.capabilityCache.set(server, { value, until: now + HEALTH_FAILURE_TTL_MS });
      return value;
    }
  }

  /** Drops every connection at once: in-flight long-polls end with `aborted`. */
  close(): Promise<void> {
    return this.http.close();
  }

  /** Whether this relay has answered this process at least once (any HTTP answer counts). */
  answered(server: string): boolean {
    return this.answering.has(server);
  }

  private call<S extends z.ZodType>(server: string, spec: RequestSpec<S>, options?: CallOptions) {
    return this.http.call(server, spec, options).then(
      (result) => {
        this.answering.add(server);
        return result;
      },
      (error: unknown) => {
        if (error instanceof NexusError && error.status !== undefined) this.answering.add(server);
        throw error;
      },
    );
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function idScrub(sessionId: string): Scrub[] {
  return [{ value: sessionId, replacement: `${shortId(sessionId)}…` }];
}

function keyScrub(sessionKey: string): Scrub[] {
  return sessionKey ? [{ value: sessionKey, replacement: '[session key]' }] : [];
}

/** Call options carrying the caller's signal, when there is one. */
export function signalOpt(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}
