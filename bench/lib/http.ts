/**
 * Raw HTTP to the relay: one undici keep-alive connection per RawHttp, no schema checks, no
 * retries. This is the baseline the client-side paths are compared with.
 */
import { Client } from 'undici';
import { filler } from './util.ts';

export interface RawAgent {
  sessionId: string;
  agentId: string;
  sessionKey: string;
}

export interface RawMessage {
  cursor: string;
  agentId: string;
  text: string;
}

export interface RawPoll {
  messages: RawMessage[];
  nextCursor: string;
}

export class RawHttp {
  private readonly client: Client;
  readonly url: string;

  constructor(url: string) {
    this.url = url;
    this.client = new Client(url, { pipelining: 1, keepAliveTimeout: 60_000 });
  }

  async request<T>(
    method: 'GET' | 'PUT' | 'POST',
    path: string,
    headers: Record<string, string> = {},
    body?: unknown,
  ): Promise<T> {
    const response = await this.client.request({
      method,
      path,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    const data = (await response.body.json()) as T;
    if (response.statusCode >= 400) {
      throw new Error(
        `${method} ${path.replace(/[0-9a-f]{48}/, '…')}: ${response.statusCode} ${JSON.stringify(data)}`,
      );
    }
    return data;
  }

  async createSession(agentId: string, maxAgents?: number): Promise<RawAgent> {
    const created = await this.request<{ sessionId: string; sessionKey: string }>(
      'PUT',
      '/v1/sessions',
      {},
      { creatorAgentId: agentId, ...(maxAgents !== undefined && { maxAgents }) },
    );
    return { sessionId: created.sessionId, agentId, sessionKey: created.sessionKey };
  }

  async join(sessionId: string, agentId: string): Promise<RawAgent> {
    const joined = await this.request<{ sessionKey: string }>(
      'POST',
      `/v1/sessions/${sessionId}/join`,
      { 'x-agent-id': agentId },
    );
    return { sessionId, agentId, sessionKey: joined.sessionKey };
  }

  send(agent: RawAgent, text: string): Promise<{ id: string; cursor: string }> {
    return this.request('POST', `/v1/sessions/${agent.sessionId}/messages`, headersOf(agent), {
      text,
    });
  }

  poll(agent: RawAgent, after?: string, waitMs?: number): Promise<RawPoll> {
    const query = new URLSearchParams();
    if (after !== undefined) query.set('after', after);
    if (waitMs !== undefined) query.set('waitMs', String(waitMs));
    const qs = query.size ? `?${query}` : '';
    return this.request('GET', `/v1/sessions/${agent.sessionId}/messages${qs}`, {
      'x-agent-id': agent.agentId,
    });
  }

  stats(): Promise<{ activeSessions: number; pendingLongPolls: number }> {
    return this.request('GET', '/v1/stats');
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export function headersOf(agent: RawAgent): Record<string, string> {
  return { 'x-agent-id': agent.agentId, 'x-session-key': agent.sessionKey };
}

/** The autocannon request of the load benchmarks (url aside): a send of `chars` characters. */
export function sendLoadRequest(agent: RawAgent, chars = 100) {
  return {
    method: 'POST' as const,
    headers: { 'content-type': 'application/json', ...headersOf(agent) },
    body: JSON.stringify({ text: filler(chars) }),
  };
}
