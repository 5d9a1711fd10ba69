import { VERSION } from '../../version.js';
import type { RelayApp, RouteDeps } from './deps.js';

export function metaRoutes(app: RelayApp, { service, options }: RouteDeps): void {
  app.get('/health', (c) =>
    c.json({
      status: 'ok',
      version: VERSION,
      uptime: service.uptimeSeconds(),
      capabilities: { messageFormat: ['text', 'json'], longPoll: options.longPoll },
    }),
  );

  app.get('/v1/stats', async (c) => c.json(await service.stats()));
}
