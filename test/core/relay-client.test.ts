import { describe, expect, it } from 'vitest';
import { RelayClient } from '../../src/core/relay-client.js';
import { cleanup } from '../helpers/cleanup.js';
import { failure } from '../helpers/core.js';
import { closedPort, json, startFaultyServer } from '../helpers/faulty-server.js';
import { useRelay } from '../helpers/relay.js';

const SESSION = 'a'.repeat(48);
const KEY = 'k'.repeat(64);
const creds = (server: string) => ({ server, sessionId: SESSION, agentId: 'a', sessionKey: KEY });

function client(options: ConstructorParameters<typeof RelayClient>[0] = {}) {
  const c = new RelayClient({
    timeoutMs: 2_000,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    ...options,
  });
  cleanup(() => c.close());
  return c;
}

describe('relay client against the real relay', async () => {
  const relay = await useRelay();
  const http = client();

  it('types every operation of a full exchange', async () => {
    const created = await http.create(relay.url, { creatorAgentId: 'alice', greeting: 'hi' });
    expect(created.data.sessionId).toMatch(/^[0-9a-f]{48}$/);
    expect(created.data.sessionKey).toBeTruthy();
    const id = created.data.sessionId;
    const joined = await http.join({ server: relay.url, sessionId: id, agentId: 'bob' });
    expect(joined.data.greeting).toBe('hi');
    const sent = await http.send(
      { server: relay.url, sessionId: id, agentId: 'bob', sessionKey: joined.data.sessionKey },
      { text: 'hello' },
    );
    expect(sent.data.cursor).toBe('1');
    const polled = await http.poll(
      { server: relay.url, sessionId: id, agentId: 'alice' },
      { after: '0', members: true },
    );
    expect(polled.data.messages.map((m) => [m.agentId, m.text, m.verified])).toEqual([
      ['bob', 'hello', true],
    ]);
    expect(polled.data.members?.map((m) => m.agentId).sort()).toEqual(['alice', 'bob']);
    const status = await http.status({ server: relay.url, sessionId: id });
    expect(status.data.agents.sort()).toEqual(['alice', 'bob']);
    const renewed = await http.renew({ server: relay.url, sessionId: id, agentId: 'bob' }, 120);
    expect(renewed.data.ttl).toBe(120);
    const pair = await http.pair({ server: relay.url, sessionId: id });
    expect((await http.pairStatus(relay.url, pair.data.code)).data.state).toBe('pending');
    const claimed = await http.claim(relay.url, pair.data.code, 'carol');
    expect(claimed.data.sessionId).toBe(id);
    const left = await http.leave({
      server: relay.url,
      sessionId: id,
      agentId: 'carol',
      sessionKey: claimed.data.sessionKey,
    });
    expect(left.data.ok ?? left.data.status === 'removed').toBeTruthy();
    const stats = await http.stats(relay.url);
    expect(stats.data.activeSessions).toBeGreaterThanOrEqual(1);
  });

  it('maps protocol errors to their code and hint, with the request id', async () => {
    const error = await failure(http.status({ server: relay.url, sessionId: SESSION }));
    expect(error.code).toBe('session_not_found');
    expect(error.status).toBe(404);
    expect(error.hint).toMatch(/create a new session/);
    expect(error.requestId).toBeTruthy();
    expect(error.retryable).toBe(false);
  });

  it('reads the relay capabilities from /health and caches them', async () => {
    const caps = await http.capabilities(relay.url);
    expect(caps).toMatchObject({
      reachable: true,
      longPoll: true,
      messageFormat: ['text', 'json'],
    });
    expect(await http.capabilities(relay.url)).toBe(caps);
  });
});

describe('relay client against faulty servers', () => {
  it('turns an HTML page into non_json_response with a short excerpt', async () => {
    const server = await startFaultyServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(
        '<html><head><style>x{}</style></head><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>',
      );
    });
    cleanup(() => server.close());
    const error = await failure(client({ retry: { attempts: 1 } }).status(creds(server.url)));
    expect(error.code).toBe('non_json_response');
    expect(error.status).toBe(502);
    expect(error.message).toContain('502 Bad Gateway nginx');
    expect(error.message).not.toContain('<h1>');
    expect(error.retryable).toBe(true);
  });

  it('turns a 200 with an HTML body into non_json_response too', async () => {
    const server = await startFaultyServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>captive portal</html>');
    });
    cleanup(() => server.close());
    const error = await failure(client().status(creds(server.url)));
    expect(error.code).toBe('non_json_response');
    expect(error.message).toContain('captive portal');
  });

  it('gives up on a server that never answers with a timeout', async () => {
    const server = await startFaultyServer(() => undefined);
    cleanup(() => server.close());
    const error = await failure(client({ timeoutMs: 300 }).send(creds(server.url), { text: 'x' }));
    expect(error.code).toBe('timeout');
    // A send that may have reached the server is never repeated.
    expect(server.requests).toHaveLength(1);
  });

  it('reports a refused connection as network_error, retrying reads a bounded number of times', async () => {
    const port = await closedPort();
    const sleeps: number[] = [];
    const http = client({ retry: { attempts: 3 }, sleep: async (ms) => void sleeps.push(ms) });
    const error = await failure(
      http.status({ server: `http://127.0.0.1:${port}`, sessionId: SESSION }),
    );
    expect(error.code).toBe('network_error');
    expect(error.notSent).toBe(true);
    expect(error.message).toContain('ECONNREFUSED');
    expect(sleeps).toHaveLength(2);
  });

  it('retries a send only when the connection was refused, so it never reached the server', async () => {
    const port = await closedPort();
    let server: Awaited<ReturnType<typeof startFaultyServer>> | undefined;
    const http = client({
      sleep: async () => {
        server ??= await startFaultyServer(
          (_req, res) => json(res, 201, { id: 'msg_1', cursor: '1' }),
          port,
        );
      },
    });
    cleanup(() => server?.close());
    const sent = await http.send(creds(`http://127.0.0.1:${port}`), { text: 'x' });
    expect(sent.data.cursor).toBe('1');
    expect(server?.requests).toHaveLength(1);
  });

  it('does not retry a send that got a 5xx', async () => {
    const server = await startFaultyServer((_req, res) =>
      json(res, 503, { error: 'internal_error', message: 'down' }),
    );
    cleanup(() => server.close());
    const error = await failure(client().send(creds(server.url), { text: 'x' }));
    expect(error.code).toBe('internal_error');
    expect(server.requests).toHaveLength(1);
  });

  it('honours Retry-After on a 429, then succeeds', async () => {
    const server = await startFaultyServer((_req, res, index) => {
      if (index === 0)
        json(
          res,
          429,
          { error: 'rate_limit_exceeded', message: 'slow down' },
          { 'retry-after': '2' },
        );
      else json(res, 200, { messages: [], nextCursor: '0' });
    });
    cleanup(() => server.close());
    const sleeps: number[] = [];
    const http = client({ sleep: async (ms) => void sleeps.push(ms) });
    const polled = await http.poll(creds(server.url), { after: '0' });
    expect(polled.data.messages).toEqual([]);
    expect(server.requests).toHaveLength(2);
    expect(sleeps).toEqual([2_000]);
  });

  it('keeps the session key and full id out of error messages even when the server echoes them', async () => {
    const server = await startFaultyServer((req, res) =>
      json(res, 403, {
        error: 'invalid_session_key',
        message: `key ${req.headers['x-session-key']} is wrong for ${req.url}`,
      }),
    );
    cleanup(() => server.close());
    const error = await failure(client().send(creds(server.url), { text: 'x' }));
    expect(error.code).toBe('invalid_session_key');
    expect(error.message).not.toContain(KEY);
    expect(error.message).not.toContain(SESSION);
    expect(JSON.stringify(error.toJSON())).not.toContain(KEY);
  });

  it('takes a relay without /health as text-only without long-poll', async () => {
    const server = await startFaultyServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<h1>Not Found</h1>');
    });
    cleanup(() => server.close());
    expect(await client().capabilities(server.url)).toEqual({
      reachable: true,
      messageFormat: ['text'],
      longPoll: false,
    });
  });

  it('rejects a success body outside the contract as protocol_error naming the field', async () => {
    const server = await startFaultyServer((_req, res) => json(res, 200, { hello: 'world' }));
    cleanup(() => server.close());
    const error = await failure(client().status(creds(server.url)));
    expect(error.code).toBe('protocol_error');
    expect(error.message).toContain('sessionId');
  });

  it('stops at once when the caller aborts', async () => {
    const controller = new AbortController();
    // The server never answers; the caller gives up as soon as the request has arrived.
    const server = await startFaultyServer(() => controller.abort());
    cleanup(() => server.close());
    const error = await failure(
      client().poll(creds(server.url), { waitMs: 20_000 }, { signal: controller.signal }),
    );
    expect(error.code).toBe('aborted');
  });
});
