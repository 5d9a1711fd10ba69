import type { Context } from 'hono';
import type { z } from 'zod';
import { AGENT_ID_PATTERN, CURSOR_PATTERN, MAX_WAIT_MS } from '../protocol/index.js';
import { detailsFromZod, invalidRequest, RelayError } from './errors.js';
import { RELAY_DEFAULTS } from './options.js';
import type { PollQuery } from './relay-service.js';

/** Shared: decode() without `stream` keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads the body as JSON, refusing more than `maxBytes`: by Content-Length before reading (and
 * by size after, for in-process requests with a lying header), or by counting what arrives for
 * chunked bodies. An empty body reads as {}.
 */
export async function readJsonBody(c: Context, maxBytes: number): Promise<unknown> {
  const length = c.req.header('content-length');
  const declared = Number(length);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(maxBytes);
  let bytes: Uint8Array;
  if (length !== undefined && /^\d+$/.test(length)) {
    // With a Content-Length the HTTP parser delivers exactly that many bytes, so reading the body
    // whole is bounded; on Node this also skips building a web Request and stream for it.
    bytes = new Uint8Array(await c.req.raw.arrayBuffer());
    if (bytes.byteLength > maxBytes) throw tooLarge(maxBytes);
  } else {
    const streamed = await readStreamed(c, maxBytes);
    if (!streamed) return {};
    bytes = streamed;
  }
  return parseJsonBytes(bytes);
}

/** The body's bytes as JSON, with readJsonBody's answers: empty reads as {}. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  if (bytes.byteLength === 0) return {};
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new RelayError('invalid_body', 'The request body is not valid UTF-8.');
  }
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    throw new RelayError('invalid_body', 'The request body is not valid JSON.');
  }
  checkJsonShape(parsed);
  return parsed;
}

export const MAX_JSON_DEPTH = 64;
export const MAX_JSON_NODES = 10_000;

/**
 * Refuses bodies nested deeper than MAX_JSON_DEPTH or with more than MAX_JSON_NODES values,
 * before anything recursive (validation, redaction) walks them. Iterative, so the check itself
 * cannot overflow the stack.
 */
export function checkJsonShape(value: unknown): void {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  let nodes = 0;
  while (stack.length > 0) {
    const { value: node, depth } = stack.pop() as { value: unknown; depth: number };
    // The body's own object is not counted: the limit is about the payload inside it.
    if (depth > 1 && ++nodes > MAX_JSON_NODES) {
      throw new RelayError(
        'invalid_body',
        `The request body has more than ${MAX_JSON_NODES} JSON values: send a flatter or smaller payload.`,
      );
    }
    if (node === null || typeof node !== 'object') continue;
    // The body's own object sits one level above the `json` payload the limit is about.
    if (depth > MAX_JSON_DEPTH + 1) {
      throw new RelayError(
        'invalid_body',
        `The request body is nested deeper than ${MAX_JSON_DEPTH} levels: flatten the payload.`,
      );
    }
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) stack.push({ value: child, depth: depth + 1 });
  }
}

/** A body without Content-Length (chunked), counted as it arrives; undefined when there is none. */
async function readStreamed(c: Context, maxBytes: number): Promise<Uint8Array | undefined> {
  const body = c.req.raw.body;
  if (!body) return undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

function tooLarge(maxBytes: number): RelayError {
  return new RelayError(
    'message_too_large',
    `The request body is larger than ${maxBytes} bytes: split it into smaller messages.`,
  );
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const details = detailsFromZod(parsed.error);
    const first = details[0];
    throw new RelayError(
      'invalid_request',
      first ? `Invalid ${first.path || 'body'}: ${first.message}` : 'Invalid request body.',
      { details },
    );
  }
  return parsed.data;
}

/**
 * The request's headers and query as the checks below read them: Hono's `c.req`, or the direct
 * routes' view of a node:http request (direct-routes.ts).
 */
export interface RequestFields {
  header(name: string): string | undefined;
  query(name: string): string | undefined;
}

export function requireAgentId(c: { req: RequestFields }): string {
  const agentId = c.req.header('x-agent-id');
  if (agentId === undefined || agentId === '') throw new RelayError('missing_agent_id');
  if (!AGENT_ID_PATTERN.test(agentId)) {
    throw invalidRequest('X-Agent-Id', 'letters, digits, - and _ only, at most 128 characters');
  }
  return agentId;
}

/** An empty X-Session-Key counts as absent. */
export function sessionKeyHeader(c: { req: RequestFields }): string | undefined {
  return c.req.header('x-session-key') || undefined;
}

function booleanParam(name: string, raw: string | undefined): boolean {
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw invalidRequest(name, 'must be true or false');
}

function integerParam(
  name: string,
  raw: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw invalidRequest(name, `must be an integer from ${min} to ${max}`);
  }
  return Number(raw);
}

export function parsePollQuery(c: { req: RequestFields }, longPoll: boolean): PollQuery {
  const after = c.req.query('after');
  if (after !== undefined && !CURSOR_PATTERN.test(after)) {
    throw invalidRequest('after', 'must be a cursor: a non-negative decimal integer');
  }
  const limit =
    integerParam('limit', c.req.query('limit'), 1, RELAY_DEFAULTS.maxPollLimit) ??
    RELAY_DEFAULTS.defaultPollLimit;
  // Larger waits are clamped, not refused: a client may ask for more than this relay holds.
  const rawWait = integerParam('waitMs', c.req.query('waitMs'), 0, Number.MAX_SAFE_INTEGER);
  return {
    after,
    members: booleanParam('members', c.req.query('members')),
    limit,
    waitMs: longPoll ? Math.min(rawWait ?? 0, MAX_WAIT_MS) : 0,
  };
}
