import type { Context } from 'hono';
import { PairRequest } from '../../protocol/index.js';
import { RelayError } from '../errors.js';
import { parseBody, readJsonBody, requireAgentId } from '../http-input.js';
import { PAIRING_PAGE_CSP, pairingHtml, pairingMarkdown, unknownCodeHtml } from '../skill-page.js';
import { iso } from '../wire.js';
import type { RelayApp, RouteDeps } from './deps.js';

function wantsHtml(c: Context): boolean {
  return (c.req.header('accept') ?? '').toLowerCase().includes('text/html');
}

export function pairingRoutes(app: RelayApp, { service, options, baseUrl }: RouteDeps): void {
  app.put('/v1/pair', async (c) => {
    const request = parseBody(PairRequest, await readJsonBody(c, options.maxMessageBytes));
    return c.json(await service.pair(request.sessionId, baseUrl(c)), 201);
  });

  app.get('/v1/pair/:code/status', async (c) =>
    c.json(await service.pairStatus(c.req.param('code'))),
  );

  app.post('/v1/pair/:code/claim', async (c) => {
    const agentId = requireAgentId(c);
    return c.json(await service.claim(c.req.param('code'), agentId));
  });

  // Path-only Location: it resolves against whatever host the link was opened on.
  app.get('/p/:code', (c) => {
    const base = new URL(baseUrl(c)).pathname.replace(/\/+$/, '');
    const code = encodeURIComponent(c.req.param('code').toUpperCase());
    return c.redirect(`${base}/v1/pair/${code}/skill`, 302);
  });

  app.get('/v1/pair/:code/skill', async (c) => {
    c.header('Content-Security-Policy', PAIRING_PAGE_CSP);
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Cache-Control', 'no-store');
    c.header('Referrer-Policy', 'no-referrer');
    let record: Awaited<ReturnType<typeof service.claimableCode>>;
    try {
      record = await service.claimableCode(c.req.param('code'));
    } catch (error) {
      if (error instanceof RelayError && wantsHtml(c)) return c.html(unknownCodeHtml(), 404);
      throw error;
    }
    const args = [baseUrl(c), record.code, iso(record.expiresAt)] as const;
    if (wantsHtml(c)) return c.html(pairingHtml(...args));
    return c.body(pairingMarkdown(...args), 200, {
      'Content-Type': 'text/markdown; charset=utf-8',
    });
  });
}
