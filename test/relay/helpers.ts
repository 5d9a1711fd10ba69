import type { z } from 'zod';
import {
  CreateSessionResponse,
  ErrorBody,
  JoinResponse,
  PollResponse,
  SendResponse,
} from '../../src/protocol/index.js';
import { type RelayOptions, type RunningRelay, startRelay } from '../../src/relay/index.js';
import { cleanup } from '../helpers/cleanup.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { storeOptions } from './stores.js';

export { FakeClock, T0 } from '../helpers/fake-clock.js';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON, or undefined when the body is not JSON. */
  body: unknown;
}

export interface CallOptions {
  agentId?: string;
  sessionKey?: string;
  headers?: Record<string, string>;
  /** Serialised as JSON. */
  json?: unknown;
  /** Sent as is. */
  raw?: string;
  signal?: AbortSignal;
}

export class TestRelay {
  readonly logs: string[] = [];
  relay!: RunningRelay;

  constructor(readonly clock: FakeClock) {}

  get url(): string {
    return this.relay.url;
  }

  static async start(options: RelayOptions = {}, clock = new FakeClock()): Promise<TestRelay> {
    const test = new TestRelay(clock);
    test.relay = await startRelay({
      host: '127.0.0.1',
      port: 0,
      rateLimitPerMinute: 0,
      clock,
      log: (line) => test.logs.push(line),
      ...(options.store === undefined && options.dataDir === undefined ? storeOptions() : {}),
      ...options,
    });
    return test;
  }

  /** Starts a relay that is closed when the current test (or suite) ends. */
  static async use(options: RelayOptions = {}, clock = new FakeClock()): Promise<TestRelay> {
    const test = await TestRelay.start(options, clock);
    cleanup(() => test.close());
    return test;
  }

  close(): Promise<void> {
    return this.relay.close();
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.agentId !== undefined) headers['X-Agent-Id'] = options.agentId;
    if (options.sessionKey !== undefined) headers['X-Session-Key'] = options.sessionKey;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.raw !== undefined) {
      headers['Content-Type'] ??= 'application/json';
      body = options.raw;
    }
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      redirect: 'manual',
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, text, body: parsed };
  }

  async createSession(body: Record<string, unknown> = {}): Promise<CreateSessionResponse> {
    const reply = await this.call('PUT', '/v1/sessions', { json: body });
    return expectOk(reply, 201, CreateSessionResponse);
  }

  /** A session created by `creator`, with its key. */
  async sessionWithCreator(
    creator = 'alice',
    body: Record<string, unknown> = {},
  ): Promise<{ sessionId: string; key: string }> {
    const created = await this.createSession({ creatorAgentId: creator, ...body });
    return { sessionId: created.sessionId, key: created.sessionKey ?? '' };
  }

  async join(sessionId: string, agentId: string): Promise<JoinResponse> {
    const reply = await this.call('POST', `/v1/sessions/${sessionId}/join`, { agentId });
    return expectOk(reply, 200, JoinResponse);
  }

  async send(
    sessionId: string,
    agentId: string,
    message: { text?: string; json?: unknown },
    sessionKey?: string,
  ): Promise<SendResponse> {
    const reply = await this.call('POST', `/v1/sessions/${sessionId}/messages`, {
      agentId,
      json: message,
      ...(sessionKey !== undefined ? { sessionKey } : {}),
    });
    return expectOk(reply, 201, SendResponse);
  }

  async poll(sessionId: string, agentId: string, query = ''): Promise<PollResponse> {
    const reply = await this.call('GET', `/v1/sessions/${sessionId}/messages${query}`, { agentId });
    return expectOk(reply, 200, PollResponse);
  }

  async stats(): Promise<Record<string, number>> {
    const reply = await this.call('GET', '/v1/stats');
    return reply.body as Record<string, number>;
  }
}

export function expectOk<T extends z.ZodType>(reply: Reply, status: number, schema: T): z.infer<T> {
  if (reply.status !== status) {
    throw new Error(`expected HTTP ${status}, got ${reply.status}: ${reply.text}`);
  }
  return schema.parse(reply.body);
}

/** Asserts a protocol error: status, error code, a message, and the request id header. */
export function expectError(reply: Reply, status: number, code: string): ErrorBody {
  if (reply.status !== status) {
    throw new Error(`expected HTTP ${status} ${code}, got ${reply.status}: ${reply.text}`);
  }
  const body = ErrorBody.parse(reply.body);
  if (body.error !== code) throw new Error(`expected error ${code}, got ${reply.text}`);
  if (!body.message) throw new Error(`error ${code} has no message`);
  if (!reply.headers.get('x-request-id')) throw new Error(`error ${code} has no X-Request-Id`);
  return body;
}
