/**
 * HTTP to a relay, and nothing of the protocol's operations: one undici Agent (it keeps a
 * keep-alive pool per origin), an explicit timeout per request, retry with Retry-After as a small
 * wrapper, and every answer that is not a 2xx JSON body of the expected shape turned into a
 * NexusError. The two places a response body is read and relay text is excerpted are
 * `readBody` and `excerpt`.
 */
import type { Agent } from 'undici';
import type { z } from 'zod';
import {
  ErrorBody,
  frameRelayText,
  isProtocolErrorCode,
  type SecretScrub,
} from '../protocol/index.js';
import { VERSION } from '../version.js';
import { maxResponseBytes, readBoundedText } from './bounded-body.js';
import { type Clock, delay, type Sleep, systemClock } from './clock.js';
import { hintFor, isClientErrorCode, type NetworkCause, NexusError } from './errors.js';

export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

export interface RetryPolicy {
  /** Total attempts, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** No retry starts once this much time has passed since the first attempt. */
  maxTotalMs: number;
}

const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  maxTotalMs: 15_000,
};

export interface TransportOptions {
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  sleep?: Sleep;
  clock?: Clock;
  random?: () => number;
  /** The largest response body read before the connection is dropped (default 8 MiB). */
  maxResponseBytes?: number;
}

/** A value to keep out of error messages (a key, a full session id) and what to show instead. */
export type Scrub = SecretScrub;

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call (status probes use a short one). */
  timeoutMs?: number;
  /** Overrides the retry policy's attempt count for this call (1 = no retry). */
  attempts?: number;
}

export interface RequestSpec<S extends z.ZodType> {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  path: string;
  query?: Record<string, string | undefined>;
  headers?: Record<string, string | undefined>;
  body?: unknown;
  schema: S;
  /** Safe to send again after a network error, a 5xx or a 429. */
  idempotent: boolean;
  /** Extra time the relay may legitimately hold the request (long-poll). */
  holdMs?: number;
  scrub?: Scrub[];
}

const NEVER_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

let undici: Promise<typeof import('undici')> | undefined;

export class HttpTransport {
  readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly sleep: Sleep;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly maxResponseBytes: number;
  private agent: Promise<Agent> | undefined;
  /** The agent once loaded: a call then skips awaiting the promise (one microtask turn less). */
  private ready: Agent | undefined;
  private readonly bases = new Map<string, { origin: string; prefix: string }>();
  private closed = false;

  constructor(options: TransportOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.sleep = options.sleep ?? delay;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.maxResponseBytes = options.maxResponseBytes ?? maxResponseBytes();
  }

  /** Drops every connection at once: in-flight long-polls end with `aborted`. */
  async close(): Promise<void> {
    this.closed = true;
    const agent = this.agent;
    this.agent = undefined;
    this.ready = undefined;
    if (agent) await (await agent).destroy().catch(() => undefined);
  }

  async call<S extends z.ZodType>(
    server: string,
    spec: RequestSpec<S>,
    options: CallOptions = {},
  ): Promise<{ data: z.output<S>; requestId?: string }> {
    const started = this.clock.now();
    const attempts = options.attempts ?? this.retry.attempts;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(server, spec, options);
      } catch (error) {
        if (!(error instanceof NexusError)) throw error;
        const safe = spec.idempotent ? error.retryable : error.notSent;
        const elapsed = this.clock.now() - started;
        if (
          !safe ||
          attempt >= attempts ||
          elapsed >= this.retry.maxTotalMs ||
          options.signal?.aborted
        ) {
          throw error;
        }
        const backoff = Math.min(
          this.retry.maxDelayMs,
          this.retry.baseDelayMs * 2 ** (attempt - 1),
        );
        const jittered = backoff / 2 + this.random() * (backoff / 2);
        const wait = Math.min(
          Math.max(error.retryAfterMs ?? 0, jittered),
          this.retry.maxTotalMs - elapsed,
        );
        if (
          error.retryAfterMs !== undefined &&
          error.retryAfterMs > this.retry.maxTotalMs - elapsed
        )
          throw error;
        try {
          await this.sleep(wait, options.signal);
        } catch {
          throw new NexusError({ code: 'aborted', message: 'The operation was cancelled.' });
        }
      }
    }
  }

  /** A relay URL's origin and path prefix, parsed once per relay. */
  private base(server: string): { origin: string; prefix: string } {
    let base = this.bases.get(server);
    if (!base) {
      const url = new URL(server);
      base = { origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') };
      this.bases.set(server, base);
    }
    return base;
  }

  private dispatcher(): Promise<Agent> {
    // Loaded on first use: undici is a sixth of the server's start-up, and a host starts
    // every configured server when it launches, long before any of them is called.
    undici ??= import('undici');
    this.agent ??= undici.then(
      ({ Agent }) =>
        new Agent({
          connect: { timeout: Math.min(this.timeoutMs, DEFAULT_HTTP_TIMEOUT_MS) },
          keepAliveTimeout: 30_000,
          pipelining: 1,
        }),
    );
    this.agent.then(
      (agent) => {
        if (!this.closed) this.ready = agent;
      },
      () => undefined,
    );
    return this.agent;
  }

  private async once<S extends z.ZodType>(
    server: string,
    spec: RequestSpec<S>,
    options: CallOptions,
  ): Promise<{ data: z.output<S>; requestId?: string }> {
    if (this.closed)
      throw new NexusError({ code: 'aborted', message: 'The client is shutting down.' });
    if (options.signal?.aborted)
      throw new NexusError({ code: 'aborted', message: 'The operation was cancelled.' });

    const base = this.base(server);
    const path = `${base.prefix}${spec.path}${queryString(spec.query)}`;
    const headers: Record<string, string> = {
      'user-agent': `nexus-messaging-mcp/${VERSION}`,
      accept: 'application/json',
    };
    for (const [key, value] of Object.entries(spec.headers ?? {}))
      if (value !== undefined) headers[key] = value;
    let body: string | undefined;
    if (spec.body !== undefined) {
      body = JSON.stringify(spec.body);
      headers['content-type'] = 'application/json';
    }

    const budget = (options.timeoutMs ?? this.timeoutMs) + (spec.holdMs ?? 0);

    let statusCode: number;
    let responseHeaders: Record<string, string | string[] | undefined>;
    let text: string;
    try {
      const response = await (this.ready ?? (await this.dispatcher())).request({
        origin: base.origin,
        path,
        method: spec.method,
        headers,
        ...(body !== undefined && { body }),
        // The caller's signal as it is, and undici's own timers for the budget: combining a
        // timeout signal with the caller's (AbortSignal.timeout + AbortSignal.any) measured
        // 15-25 µs a call, and every MCP tool call has a signal.
        ...(options.signal !== undefined && { signal: options.signal }),
        headersTimeout: budget,
        bodyTimeout: budget,
      });
      statusCode = response.statusCode;
      responseHeaders = response.headers;
      text = await readBoundedText(response.body, {
        maxBytes: this.maxResponseBytes,
        ...(options.signal !== undefined && { signal: options.signal }),
        contentLength: response.headers['content-length'],
        what: () => describeRequest(spec),
      });
    } catch (error) {
      throw transportError(error, {
        cancelled: options.signal?.aborted ?? false,
        what: describeRequest(spec),
        budget,
        server: base.origin,
      });
    }

    const requestId = firstHeader(responseHeaders['x-request-id']);
    const withId = requestId === undefined ? {} : { requestId };
    let json: unknown;
    let isJson = false;
    try {
      json = JSON.parse(text);
      isJson = true;
    } catch {
      // handled below: a body that is not JSON is an answer of its own kind
    }

    if (statusCode >= 200 && statusCode < 300) {
      if (!isJson) {
        throw new NexusError({
          code: 'non_json_response',
          status: statusCode,
          message: `${describeRequest(spec)} answered ${statusCode} with a body that is not JSON: ${excerpt(text, spec.scrub)}`,
          ...withId,
        });
      }
      const parsed = spec.schema.safeParse(json);
      if (!parsed.success) {
        throw new NexusError({
          code: 'protocol_error',
          status: statusCode,
          message: `${describeRequest(spec)} answered with an unexpected body (${parsed.error.issues
            .slice(0, 3)
            .map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`)
            .join('; ')})`,
          ...withId,
        });
      }
      return { data: parsed.data, ...withId };
    }

    const retryAfterMs = parseRetryAfter(
      firstHeader(responseHeaders['retry-after']),
      this.clock.now(),
    );
    const retryable = statusCode === 429 || statusCode >= 500;
    const common = {
      status: statusCode,
      retryable,
      ...withId,
      ...(retryAfterMs !== undefined && { retryAfterMs }),
    };
    const errorBody = isJson ? ErrorBody.safeParse(json) : undefined;
    if (errorBody?.success) {
      const code = errorBody.data.error;
      const message = excerpt(
        withDetails(errorBody.data.message ?? code, errorBody.data.details, spec.body),
        spec.scrub,
      );
      const known = isProtocolErrorCode(code) || isClientErrorCode(code);
      throw new NexusError({
        code: known ? code : 'http_error',
        // A code this client does not know stays visible in the message, cut to a sane size.
        message: known
          ? message
          : `${describeRequest(spec)} answered ${statusCode} ${excerpt(code)}: ${message}`,
        ...common,
        ...(errorBody.data.details !== undefined && { details: errorBody.data.details }),
      });
    }
    if (!isJson) {
      throw new NexusError({
        code: 'non_json_response',
        message: `${describeRequest(spec)} answered ${statusCode} with a body that is not JSON: ${excerpt(text, spec.scrub)}`,
        ...common,
      });
    }
    throw new NexusError({
      code: 'http_error',
      message: `${describeRequest(spec)} answered ${statusCode}.`,
      ...common,
    });
  }
}

/**
 * A refusal's details folded into its message, with the value we sent for each field named, so
 * the reader sees the field, the rule and the value in one line.
 */
function withDetails(message: string, details: unknown[] | undefined, body: unknown): string {
  const parts = [message];
  // A hostile relay could send any number of details of any length: three short ones say enough.
  for (const detail of (details ?? []).slice(0, 3)) {
    if (typeof detail !== 'object' || detail === null) continue;
    const { path, message: rule } = detail as { path?: unknown; message?: unknown };
    const field = Array.isArray(path) ? path.join('.') : typeof path === 'string' ? path : '';
    if (typeof rule === 'string' && !message.includes(rule))
      parts.push(`${field.slice(0, 40)}: ${rule.slice(0, 120)}`);
    if (field && typeof body === 'object' && body !== null && Object.hasOwn(body, field)) {
      const sent = JSON.stringify((body as Record<string, unknown>)[field]) ?? 'undefined';
      parts.push(`sent ${field}: ${sent.length > 60 ? `${sent.slice(0, 60)}…` : sent}`);
    }
  }
  return parts.join('; ');
}

/** A request as error messages name it: method and path, without session ids or codes. */
/** `?a=1&b=2` from the defined values, as URLSearchParams would write it; '' when none. */
function queryString(query: Record<string, string | undefined> | undefined): string {
  let out = '';
  for (const key in query) {
    const value = query[key];
    if (value === undefined) continue;
    out += `${out ? '&' : '?'}${encodeQuery(key)}=${encodeQuery(value)}`;
  }
  return out;
}

function encodeQuery(text: string): string {
  return /^[\w.~-]*$/.test(text) ? text : new URLSearchParams([['', text]]).toString().slice(1);
}

function describeRequest(spec: { method: string; path: string }): string {
  const path = spec.path
    .replace(/\/v1\/sessions\/[^/]+/, '/v1/sessions/…')
    .replace(/\/v1\/pair\/[^/]+/, '/v1/pair/…');
  return `${spec.method} ${path}`;
}

/** The one place relay text enters an error: scrubbed first, then cut, framed as untrusted. */
function excerpt(text: string, scrub?: Scrub[]): string {
  return frameRelayText(text, scrub);
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

interface TransportContext {
  cancelled: boolean;
  what: string;
  budget: number;
  server: string;
}

function transportError(error: unknown, context: TransportContext): NexusError {
  if (error instanceof NexusError) return error;
  const code = errorCode(error);
  if (context.cancelled)
    return new NexusError({ code: 'aborted', message: 'The operation was cancelled.' });
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new NexusError({
      code: 'timeout',
      message: `${context.what} on ${context.server} got no answer within ${context.budget} ms.`,
      retryable: false,
    });
  }
  const notSent = code !== undefined && NEVER_SENT.has(code);
  const network = networkCause(code);
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new NexusError({
      code: 'timeout',
      message: `Connecting to ${context.server} timed out: the host did not answer (a firewall, or a wrong address?).`,
      hint: hintFor('network_error'),
      retryable: true,
      notSent: true,
      network,
    });
  }
  const reason = code ?? (error instanceof Error ? error.message : 'unknown error');
  return new NexusError({
    code: 'network_error',
    message: `${context.what} could not reach ${context.server}: ${NETWORK_CAUSES[network]} (${reason}).`,
    retryable: true,
    notSent,
    network,
  });
}

/** What each cause means, in the words of someone looking at their setup. */
export const NETWORK_CAUSES: Record<NetworkCause, string> = {
  dns: 'the host name does not resolve (DNS)',
  refused: 'the connection was refused, nothing listens at that address and port',
  tls: 'the TLS handshake failed (a certificate problem, or https:// to a plain http port)',
  timeout: 'connecting timed out',
  unreachable: 'there is no route to the host',
  reset: 'the connection was closed before the relay answered',
  other: 'the connection failed',
};

/** Sorts a connection failure's code into the causes a human can act on. */
export function networkCause(code: string | undefined): NetworkCause {
  if (code === undefined) return 'other';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL') return 'dns';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'unreachable';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') return 'reset';
  if (/CERT|TLS|SSL|EPROTO|SIGNATURE/.test(code)) return 'tls';
  return 'other';
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    if (
      typeof current === 'object' &&
      current !== null &&
      'code' in current &&
      typeof current.code === 'string'
    ) {
      return current.code;
    }
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}
