import { CreateSessionRequest, RenewRequest } from '../../protocol/index.js';
import { parseBody, readJsonBody, requireAgentId, sessionKeyHeader } from '../http-input.js';
import type { RelayApp, RouteDeps } from './deps.js';

export function sessionRoutes(app: RelayApp, { service, options }: RouteDeps): void {
  app.put('/v1/sessions', async (c) => {
    const request = parseBody(CreateSessionRequest, await readJsonBody(c, options.maxMessageBytes));
    return c.json(await service.createSession(request, c.get('clientAddress')), 201);
  });

  app.get('/v1/sessions/:id', async (c) => c.json(await service.status(c.req.param('id'))));

  app.post('/v1/sessions/:id/join', async (c) => {
    const agentId = requireAgentId(c);
    return c.json(await service.join(c.req.param('id'), agentId));
  });

  app.post('/v1/sessions/:id/renew', async (c) => {
    const agentId = requireAgentId(c);
    const request = parseBody(RenewRequest, await readJsonBody(c, options.maxMessageBytes));
    return c.json(await service.renew(c.req.param('id'), agentId, request.ttl));
  });

  app.delete('/v1/sessions/:id/agents/:agentId', async (c) => {
    const callerId = requireAgentId(c);
    const result = await service.leave(
      c.req.param('id'),
      c.req.param('agentId'),
      callerId,
      sessionKeyHeader(c),
    );
    return c.json(result);
  });
}
