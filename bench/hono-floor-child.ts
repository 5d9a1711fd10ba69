/**
 * The floor the relay's throughput is compared with: a minimal Hono app on @hono/node-server
 * answering a fixed JSON body, in a process of its own like the relay (bench/lib/relay.ts).
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
const body = { ok: true, cursor: '1', id: 'msg_0123456789abcdef01234567' };
app.all('*', (c) => c.json(body));
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.send?.({ id: 0, ok: true, result: { url: `http://127.0.0.1:${info.port}` } });
});
process.on('disconnect', () => {
  server.close(() => process.exit(0));
});
