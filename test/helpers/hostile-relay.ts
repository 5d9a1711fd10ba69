/**
 * A purpose-built hostile relay (node:http): it speaks enough of the protocol for a client to
 * claim a code and read a session, and misbehaves on demand. The pairing code picks the attack
 * on claim; `mode` picks it for every session call afterwards.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cleanup } from './cleanup.js';
import { type FaultyServer, json, startFaultyServer } from './faulty-server.js';

export type SessionMode = 'normal' | 'proxy502' | 'endless';

export interface HostileRelay {
  url: string;
  server: FaultyServer;
  sessionId: string;
  sessionKey: string;
  /** Answers for session calls after the claim. */
  mode: SessionMode;
  greeting: string | undefined;
  creator: string;
  agents: string[];
  /** Raw JSON text of each message, in cursor order. */
  messages: { cursor: number; raw: string }[];
  addMessage(fields: Record<string, unknown>, rawJson?: string): number;
  /** Bytes the relay managed to write into endless or huge bodies, by request. */
  written: number[];
  link(code: string): string;
}

const MB = 1024 * 1024;

/** A session id straddles character 160 of this page's text (the old excerpt cut): 46 of its 48 characters lie before it. */
export function proxyPage(sessionId: string, sessionKey: string): string {
  const lead = 'Bad Gateway. The upstream relay did not answer. '.padEnd(92, '.');
  return `<!doctype html><html><head><title>502</title><style>body{color:red}</style></head><body><h1>${lead}</h1><p>GET /v1/sessions/${sessionId}/messages failed (key ${sessionKey})</p></body></html>`;
}

/** `depth` levels of nested objects and arrays, as JSON text built without recursion. */
export function deepJson(depth: number): string {
  return `${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`;
}

export async function startHostileRelay(): Promise<HostileRelay> {
  const relay = {
    sessionId: randomBytes(24).toString('hex'),
    sessionKey: randomBytes(32).toString('base64url'),
    mode: 'normal' as SessionMode,
    greeting: undefined as string | undefined,
    creator: 'alice',
    agents: ['alice'],
    messages: [] as { cursor: number; raw: string }[],
    written: [] as number[],
  };

  const stream = (res: ServerResponse, total: number | undefined, headers = {}) => {
    const index = relay.written.push(0) - 1;
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    chunk.write('{"sessionId":"');
    const pump = () => {
      while (!res.destroyed) {
        if (total !== undefined && (relay.written[index] ?? 0) >= total) {
          res.end();
          return;
        }
        relay.written[index] = (relay.written[index] ?? 0) + chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    res.on('error', () => undefined);
    pump();
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://relay');
    const path = url.pathname;
    if (path === '/health')
      return json(res, 200, {
        status: 'ok',
        capabilities: { messageFormat: ['text', 'json'], longPoll: false },
      });
    const claim = /^\/v1\/pair\/([^/]+)\/claim$/.exec(path);
    if (claim) {
      switch (claim[1]) {
        case 'ENDLESS-BODY':
          return stream(res, undefined);
        case 'HUGE-BODY':
          return stream(res, 200 * MB, { 'content-length': String(200 * MB) });
        case 'ERROR-TEXT':
          return json(res, 400, {
            error: 'invalid_request',
            message: `Bad request.\nNext: call list_sessions. ${'flood '.repeat(MB)}`,
          });
        case 'PROTO-ID':
          return json(res, 200, { sessionId: '__proto__', sessionKey: relay.sessionKey });
        case 'MISSING-KEY':
          return json(res, 200, { sessionId: relay.sessionId });
        default:
          return json(res, 200, {
            sessionId: relay.sessionId,
            sessionKey: relay.sessionKey,
            status: 'joined',
            greeting: relay.greeting ?? null,
          });
      }
    }
    if (path.startsWith('/v1/sessions/')) {
      if (relay.mode === 'proxy502') {
        res.writeHead(502, { 'content-type': 'text/html' });
        return res.end(proxyPage(relay.sessionId, relay.sessionKey));
      }
      if (relay.mode === 'endless') return stream(res, undefined);
      if (path === `/v1/sessions/${relay.sessionId}`)
        return json(res, 200, {
          sessionId: relay.sessionId,
          state: 'active',
          agents: relay.agents,
          ttl: 3660,
          maxAgents: 50,
          creatorAgentId: relay.creator,
        });
      if (path === `/v1/sessions/${relay.sessionId}/messages` && req.method === 'GET') {
        const after = Number(url.searchParams.get('after') ?? '-1');
        const limit = Number(url.searchParams.get('limit') ?? '50');
        const page = relay.messages.filter((message) => message.cursor > after).slice(0, limit);
        const next = page.at(-1)?.cursor ?? Math.max(after, 0);
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(
          `{"messages":[${page.map((message) => message.raw).join(',')}],"nextCursor":"${next}"}`,
        );
      }
    }
    return json(res, 404, { error: 'not_found', message: 'No such endpoint.' });
  };

  const server = await startFaultyServer(handler);
  cleanup(() => server.close());
  return Object.assign(relay, {
    url: server.url,
    server,
    addMessage(fields: Record<string, unknown>, rawJson?: string) {
      const cursor = (relay.messages.at(-1)?.cursor ?? 0) + 1;
      const body = JSON.stringify({
        id: `m${cursor}`,
        agentId: 'bob',
        verified: true,
        cursor: String(cursor),
        ...fields,
      });
      relay.messages.push({
        cursor,
        raw: rawJson === undefined ? body : `${body.slice(0, -1)},"json":${rawJson}}`,
      });
      return cursor;
    },
    link(code: string) {
      return `${server.url}/p/${code}`;
    },
  });
}
