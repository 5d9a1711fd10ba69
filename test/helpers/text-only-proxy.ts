/**
 * A relay as the live service is today: forwards everything to our relay but advertises
 * text-only messages and no long-poll, and drops `waitMs` and `greeting` on the way.
 */
import { cleanup } from './cleanup.js';
import { type FaultyServer, startFaultyServer } from './faulty-server.js';

export async function useTextOnlyProxy(target: string): Promise<FaultyServer> {
  const server = await startFaultyServer((req, res) => {
    const url = new URL(req.url ?? '/', target);
    if (url.pathname === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version: 'live-like', uptime: 1 }));
      return;
    }
    url.searchParams.delete('waitMs');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'x-agent-id', 'x-session-key']) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const method = req.method ?? 'GET';
      const upstream = await fetch(url, {
        method,
        headers,
        ...(method !== 'GET' && method !== 'HEAD' && { body: Buffer.concat(chunks) }),
      });
      let body = await upstream.text();
      if (/\/(join|claim)$/.test(url.pathname) && upstream.ok) {
        const { greeting: _dropped, ...rest } = JSON.parse(body) as Record<string, unknown>;
        body = JSON.stringify(rest);
      }
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'application/json',
      });
      res.end(body);
    });
  });
  cleanup(() => server.close());
  return server;
}
