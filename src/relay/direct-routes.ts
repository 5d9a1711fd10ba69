import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJsonBytes, type RequestFields } from './http-input.js';
import type { ResolvedRelayOptions } from './options.js';
import type { RelayService } from './relay-service.js';
import { pollMessages, sendMessage } from './routes/messages.js';

/**
 * The two hot routes (send, poll) served straight from node:http: under load Hono's layers
 * (the web Request and Response, routing, two middlewares, the body stream) cost more CPU than
 * the store. The checks, the order of the errors and the answers are the Hono routes' own
 * (routes/messages.ts, app.ts); anything outside the plain shape below — percent-encoding, a
 * chunked or oversized body, an unusual Host, HEAD — is left to Hono.
 */
const MESSAGES_PATH = /^\/v1\/sessions\/([A-Za-z0-9_-]+)\/messages(?:\?([^%+#]*))?$/;
/** @hono/node-server's own test for a Host it takes as is; it validates the others itself. */
const PLAIN_HOST = /^[a-z0-9._-]+(?::(?:[1-5]\d{3,4}|[6-9]\d{3}))?$/;
const DIGITS = /^\d+$/;
const NEVER_ABORTED = new AbortController().signal;

export interface ErrorReply {
  status: number;
  body: object;
  headers: Record<string, string>;
}

export interface DirectRouteDeps {
  service: RelayService;
  options: ResolvedRelayOptions;
  /** The rate limit: throws RelayError when the client is over it. Absent when there is none. */
  admit?(forwardedFor: string | undefined, socketAddress: string | undefined): Promise<void>;
  /** What the app's error handler answers for this error. */
  errorReply(error: unknown, requestId: string): ErrorReply;
}

/** Returns a request listener that answers and returns true, or returns false for Hono's. */
export function directMessageRoutes(
  deps: DirectRouteDeps,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const method = req.method;
    if (method !== 'POST' && method !== 'GET') return false;
    const match = MESSAGES_PATH.exec(req.url ?? '');
    if (!match) return false;
    const host = req.headers.host;
    if (host === undefined || !PLAIN_HOST.test(host)) return false;
    if (method === 'POST') {
      const length = req.headers['content-length'];
      if (length === undefined || !DIGITS.test(length)) return false;
      if (Number(length) > deps.options.maxMessageBytes) return false;
    }
    const sessionId = match[1] as string;
    answer(deps, req, res, method === 'POST', sessionId, match[2]).catch(() => res.destroy());
    return true;
  };
}

async function answer(
  deps: DirectRouteDeps,
  req: IncomingMessage,
  res: ServerResponse,
  isSend: boolean,
  sessionId: string,
  query: string | undefined,
): Promise<void> {
  const requestId = randomUUID();
  const fields = requestFields(req, query);
  try {
    // Read first (bounded by the Content-Length checked above), so no answer leaves a body unread.
    const bytes = isSend ? await readBody(req) : undefined;
    if (isSend && bytes === undefined) return; // The client went away mid-body.
    if (deps.admit) await deps.admit(fields.header('x-forwarded-for'), req.socket.remoteAddress);
    if (isSend) {
      const sent = await sendMessage(
        { req: fields },
        sessionId,
        () => parseJsonBytes(bytes as Uint8Array),
        deps,
      );
      reply(res, 201, JSON.stringify(sent), requestId);
    } else {
      const signal = fields.query('waitMs') ? disconnectSignal(res) : NEVER_ABORTED;
      const body = await pollMessages({ req: fields }, sessionId, signal, deps);
      reply(res, 200, body, requestId);
    }
  } catch (error) {
    const { status, body, headers } = deps.errorReply(error, requestId);
    reply(res, status, JSON.stringify(body), requestId, headers);
  }
}

function requestFields(req: IncomingMessage, query: string | undefined): RequestFields {
  return {
    // Node joins repeated custom headers with ", " as Headers#get does.
    header: (name) => req.headers[name] as string | undefined,
    query: (name) => queryParam(query, name),
  };
}

/** The first value of `name`, as Hono reads a query without percent-encoding or `+`. */
function queryParam(query: string | undefined, name: string): string | undefined {
  if (!query) return undefined;
  for (const part of query.split('&')) {
    const equals = part.indexOf('=');
    const key = equals === -1 ? part : part.slice(0, equals);
    if (key === name) return equals === -1 ? '' : part.slice(equals + 1);
  }
  return undefined;
}

/** Only a poll that may be held needs one. Aborts when the client disconnects before its answer was written, as the Hono route's does. */
function disconnectSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return controller.signal;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    // After 'end' these change nothing; before it the body will never be whole.
    req.once('error', () => resolve(undefined));
    req.once('close', () => resolve(undefined));
  });
}

function reply(
  res: ServerResponse,
  status: number,
  body: string,
  requestId: string,
  headers?: Record<string, string>,
): void {
  if (res.destroyed) return;
  const own = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
  };
  res.writeHead(status, headers ? { ...headers, ...own } : own);
  res.end(body);
}
