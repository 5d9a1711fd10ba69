import { SendRequest } from '../../protocol/index.js';
import {
  parseBody,
  parsePollQuery,
  type RequestFields,
  readJsonBody,
  requireAgentId,
  sessionKeyHeader,
} from '../http-input.js';
import { pollBody } from '../relay-service.js';
import type { RelayApp, RouteDeps } from './deps.js';

type MessageDeps = Pick<RouteDeps, 'service' | 'options'>;

/**
 * A send, checked in the order every error is answered in; `readBody` is only called once the
 * agent id passed. Shared by the Hono route and the direct one (direct-routes.ts).
 */
export async function sendMessage(
  c: { req: RequestFields },
  sessionId: string,
  readBody: () => unknown,
  { service }: MessageDeps,
) {
  const agentId = requireAgentId(c);
  const raw = await readBody();
  const body = isPlainText(raw) ? raw : parseBody(SendRequest, raw);
  return service.send(sessionId, agentId, sessionKeyHeader(c), body);
}

/**
 * `{"text": "…"}` with a non-empty text and nothing else: what nearly every send is, and what
 * the schema would hand back unchanged, so it skips the schema's walk.
 */
function isPlainText(body: unknown): body is { text: string } {
  if (typeof body !== 'object' || body === null) return false;
  const text = (body as { text?: unknown }).text;
  return typeof text === 'string' && text !== '' && Object.keys(body).length === 1;
}

/** A poll's answer body; the signal aborts when the client disconnects (frees a held poll). */
export async function pollMessages(
  c: { req: RequestFields },
  sessionId: string,
  signal: AbortSignal,
  { service, options }: MessageDeps,
): Promise<string> {
  const agentId = requireAgentId(c);
  const query = parsePollQuery(c, options.longPoll);
  return pollBody(await service.poll(sessionId, agentId, query, signal));
}

export function messageRoutes(app: RelayApp, deps: RouteDeps): void {
  app.post('/v1/sessions/:id/messages', async (c) => {
    const readBody = () => readJsonBody(c, deps.options.maxMessageBytes);
    return c.json(await sendMessage(c, c.req.param('id'), readBody, deps), 201);
  });

  app.get('/v1/sessions/:id/messages', async (c) => {
    const body = await pollMessages(c, c.req.param('id'), c.req.raw.signal, deps);
    return c.body(body, 200, { 'Content-Type': 'application/json' });
  });
}
