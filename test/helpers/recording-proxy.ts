/**
 * A recording, optionally hostile proxy in front of a real relay, for end-to-end tests of what
 * actually crosses the wire. It records every exchange both ways (request line, headers, body;
 * status, headers, body as upstream sent it and as the client got it), and can tamper with poll
 * responses the way a malicious relay would: flip a character, re-attribute a message, re-serve
 * an envelope under a new cursor, or inject a message from another session.
 *
 * New cursors: with `spreadCursors`, the client sees every relay cursor times 16 (`c` → `16c`),
 * which leaves `16c + 1` … `16c + 15` free for messages the proxy adds after relay message `c`,
 * so nothing real is skipped. `after` is mapped back on the way in.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { cleanup } from './cleanup.js';

export interface WireMessageShape {
  id: string;
  agentId: string;
  text: string;
  json?: unknown;
  cursor: string;
  [field: string]: unknown;
}

export interface PollBody {
  messages: WireMessageShape[];
  nextCursor: string;
  [field: string]: unknown;
}

export interface Exchange {
  method: string;
  /** The request line's target: path and query, exactly as the client sent it. */
  url: string;
  requestHeaders: IncomingHttpHeaders;
  requestBody: string;
  status: number;
  responseHeaders: Record<string, string>;
  /** What the relay answered. */
  upstreamBody: string;
  /** What the client got (differs from `upstreamBody` when the proxy tampered or mapped cursors). */
  responseBody: string;
}

export interface PollContext {
  sessionId: string;
  /** The polling agent (`X-Agent-Id`). */
  agentId: string | undefined;
}

/** Returns the poll body to serve (it may modify and return its argument). */
export type PollTamper = (poll: PollBody, context: PollContext) => PollBody;

const POLL_PATH = /^\/v1\/sessions\/([^/]+)\/messages$/;
const SEND_PATH = POLL_PATH;
const HOP_BY_HOP = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
]);
const DROPPED_RESPONSE = new Set([...HOP_BY_HOP, 'content-encoding']);
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const SPREAD = 16n;

export class RecordingProxy {
  readonly exchanges: Exchange[] = [];
  /** Every message served in a poll, after tampering, in order: material for replays. */
  readonly served: WireMessageShape[] = [];
  #server!: Server;
  #tampers: PollTamper[] = [];
  #once: PollTamper[] = [];
  url = '';

  private constructor(
    readonly target: string,
    readonly spreadCursors: boolean,
  ) {}

  /** Starts a proxy closed when the current test (or suite) ends. */
  static async use(
    target: string,
    options: { spreadCursors?: boolean } = {},
  ): Promise<RecordingProxy> {
    const proxy = new RecordingProxy(target.replace(/\/+$/, ''), options.spreadCursors ?? false);
    proxy.#server = createServer((req, res) => {
      proxy.#handle(req, res).catch((error: unknown) => {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'proxy_error', message: String(error) }));
      });
    });
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.url = `http://127.0.0.1:${(proxy.#server.address() as AddressInfo).port}`;
    cleanup(() => proxy.close());
    return proxy;
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }

  /** Tampers with every later poll until the returned function is called. */
  tamperPolls(tamper: PollTamper): () => void {
    this.#tampers.push(tamper);
    return () => {
      this.#tampers = this.#tampers.filter((t) => t !== tamper);
    };
  }

  /** Tampers with the next poll that returns at least one message. */
  tamperNextPoll(tamper: PollTamper): void {
    this.#once.push(tamper);
  }

  /** Every request line, header value and body that went either way, for leak scans. */
  transcript(): string {
    return this.exchanges
      .map((x) =>
        [
          `${x.method} ${x.url}`,
          ...Object.entries(x.requestHeaders).map(([name, value]) => `${name}: ${String(value)}`),
          x.requestBody,
          String(x.status),
          ...Object.entries(x.responseHeaders).map(([name, value]) => `${name}: ${value}`),
          x.upstreamBody,
          x.responseBody,
        ].join('\n'),
      )
      .join('\n\n');
  }

  /** Bodies the clients sent with `POST …/messages`, parsed. */
  sentBodies(): { sessionId: string; body: unknown }[] {
    return this.exchanges.flatMap((x) => {
      const match = SEND_PATH.exec(x.url.split('?')[0] ?? '');
      if (x.method !== 'POST' || !match) return [];
      return [{ sessionId: decodeURIComponent(match[1] ?? ''), body: parseJson(x.requestBody) }];
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestBody = await readBody(req);
    const url = new URL(req.url ?? '/', this.target);
    const sessionMatch = POLL_PATH.exec(url.pathname);
    const isPoll = req.method === 'GET' && sessionMatch !== null;
    const clientAfter = url.searchParams.get('after');
    if (isPoll && this.spreadCursors && clientAfter !== null && /^\d+$/.test(clientAfter)) {
      url.searchParams.set('after', String(BigInt(clientAfter) / SPREAD));
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(name) && typeof value === 'string') headers[name] = value;
    }
    const method = req.method ?? 'GET';
    const upstream = await fetch(`${this.target}${url.pathname}${url.search}`, {
      method,
      headers,
      ...(method !== 'GET' && method !== 'HEAD' && requestBody !== '' && { body: requestBody }),
      redirect: 'manual',
    });
    const upstreamBody = await upstream.text();
    let responseBody = upstreamBody;
    const parsed = parseJson(upstreamBody);
    if (upstream.ok && isPollBody(parsed) && isPoll) {
      const context = {
        sessionId: decodeURIComponent(sessionMatch?.[1] ?? ''),
        agentId: header(req, 'x-agent-id'),
      };
      responseBody = JSON.stringify(this.#servePoll(parsed, context, clientAfter));
    } else if (
      upstream.ok &&
      this.spreadCursors &&
      req.method === 'POST' &&
      sessionMatch &&
      hasCursor(parsed)
    ) {
      responseBody = JSON.stringify({ ...parsed, cursor: spread(parsed.cursor) });
    }
    const responseHeaders: Record<string, string> = {};
    upstream.headers.forEach((value, name) => {
      if (!DROPPED_RESPONSE.has(name)) responseHeaders[name] = value;
    });
    this.exchanges.push({
      method,
      url: req.url ?? '/',
      requestHeaders: req.headers,
      requestBody,
      status: upstream.status,
      responseHeaders,
      upstreamBody,
      responseBody,
    });
    res.writeHead(upstream.status, responseHeaders);
    res.end(responseBody);
  }

  #servePoll(poll: PollBody, context: PollContext, clientAfter: string | null): PollBody {
    let out: PollBody = poll;
    if (this.spreadCursors) {
      const next = spread(poll.nextCursor);
      out = {
        ...poll,
        messages: poll.messages.map((message) => ({ ...message, cursor: spread(message.cursor) })),
        // An `after` between spread cursors maps down to the relay cursor below it; never hand the client less.
        nextCursor:
          clientAfter !== null && /^\d+$/.test(clientAfter) && BigInt(clientAfter) > BigInt(next)
            ? clientAfter
            : next,
      };
    }
    for (const tamper of this.#tampers) out = tamper(out, context);
    if (out.messages.length > 0) {
      const once = this.#once.shift();
      if (once) out = once(out, context);
    }
    this.served.push(...out.messages);
    return out;
  }
}

/** The message with one character of its text replaced by a different base32 character. */
export function flipChar(
  message: WireMessageShape,
  index = Math.floor(message.text.length / 2),
): WireMessageShape {
  const current = message.text[index] ?? 'a';
  const replacement = BASE32[(BASE32.indexOf(current) + 1) % BASE32.length] ?? 'a';
  return {
    ...message,
    text: message.text.slice(0, index) + replacement + message.text.slice(index + 1),
  };
}

/** The message as if another agent had sent it. */
export function reattribute(message: WireMessageShape, agentId: string): WireMessageShape {
  return { ...message, agentId };
}

/**
 * The poll with `message` (a copy of something served before, or a message from another
 * session) appended under a new cursor after the poll's last one. Needs `spreadCursors`.
 */
export function appendUnderNewCursor(poll: PollBody, message: WireMessageShape): PollBody {
  const last = poll.messages.at(-1)?.cursor ?? poll.nextCursor;
  const next = BigInt(last) + 1n;
  if (next % SPREAD === 0n) {
    throw new Error(
      'appendUnderNewCursor needs a proxy with spreadCursors (at most 15 per message)',
    );
  }
  const cursor = String(next);
  return {
    ...poll,
    messages: [...poll.messages, { ...message, id: `${message.id}_again_${cursor}`, cursor }],
    nextCursor: cursor,
  };
}

/** Applies `change` to the poll's first message whose text starts with `prefix`. */
export function changeFirst(
  poll: PollBody,
  prefix: string,
  change: (message: WireMessageShape) => WireMessageShape,
): PollBody {
  const index = poll.messages.findIndex((message) => message.text.startsWith(prefix));
  if (index < 0) return poll;
  return {
    ...poll,
    messages: poll.messages.map((message, i) => (i === index ? change(message) : message)),
  };
}

function spread(cursor: string): string {
  return /^\d+$/.test(cursor) ? String(BigInt(cursor) * SPREAD) : cursor;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isPollBody(value: unknown): value is PollBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as PollBody).messages) &&
    typeof (value as PollBody).nextCursor === 'string'
  );
}

function hasCursor(value: unknown): value is { cursor: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { cursor?: unknown }).cursor === 'string'
  );
}
