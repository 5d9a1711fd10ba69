import { SendRequest } from '../../protocol/index.js';
import {
  parseBody,
  parsePollQuery,
  readJsonBody,
  requireAgentId,
  sessionKeyHeader,
} from '../http-input.js';
import { pollBody } from '../relay-service.js';
import type { RelayApp, RouteDeps } from './deps.js';

export function messageRoutes(app: RelayApp, { service, options }: RouteDeps): void {
  app.post('/v1/sessions/:id/messages', async (c) => {
    const agentId = requireAgentId(c);
    const body = parseBody(SendRequest, await readJsonBody(c, options.maxMessageBytes));
    const sent = await service.send(c.req.param('id'), agentId, sessionKeyHeader(c), body);
    return c.json(sent, 201);
  });

  app.get('/v1/sessions/:id/messages', async (c) => {
    const agentId = requireAgentId(c);
    const query = parsePollQuery(c, options.longPoll);
    // The signal aborts when the client disconnects, which frees a held long-poll at once.
    const result = await service.poll(c.req.param('id'), agentId, query, c.req.raw.signal);
    return c.body(pollBody(result), 200, { 'Content-Type': 'application/json' });
  });
}
