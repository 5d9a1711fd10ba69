import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PollResponse } from '../../src/protocol/index.js';
import { expectOk, type Reply, TestRelay } from './helpers.js';

/**
 * Sends and polls of the plain shape are answered straight from node:http
 * (src/relay/direct-routes.ts); the same requests with percent-encoding, a chunked body or an
 * unusual Host go through the Hono routes. Both must answer alike.
 */
const same = (direct: Reply, viaHono: Reply) => {
  expect(direct.status).toBe(viaHono.status);
  expect(direct.body).toEqual(viaHono.body);
  expect(direct.headers.get('content-type')).toBe(viaHono.headers.get('content-type'));
  expect(direct.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  expect(viaHono.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
};

const chunked = (text: string): ReadableStream<Uint8Array> =>
  new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
      controller.close();
    },
  });

async function postChunked(relay: TestRelay, path: string, agentId: string, text: string) {
  const response = await fetch(`${relay.url}${path}`, {
    method: 'POST',
    headers: { 'X-Agent-Id': agentId, 'Content-Type': 'application/json' },
    body: chunked(text),
    duplex: 'half',
  } as RequestInit);
  const body = await response.text();
  return { status: response.status, headers: response.headers, text: body, body: JSON.parse(body) };
}

describe('direct send and poll routes', () => {
  it('answer polls and their errors as the Hono routes do', async () => {
    const relay = await TestRelay.use({ store: 'memory' });
    const { sessionId, key } = await relay.sessionWithCreator('alice');
    for (const text of ['one', 'two']) await relay.send(sessionId, 'alice', { text }, key);
    const path = `/v1/sessions/${sessionId}/messages`;
    const pairs: [string, { agentId?: string }][] = [
      ['?after=1', { agentId: 'alice' }],
      ['?limit=0', { agentId: 'alice' }],
      ['?after=x', { agentId: 'alice' }],
      ['?members=maybe', { agentId: 'alice' }],
      ['?after=0', {}],
      ['?after=0', { agentId: 'mallory' }],
    ];
    for (const [query, options] of pairs) {
      // `&x=%20` sends the same query through Hono: the direct route leaves percent-encoding alone.
      same(
        await relay.call('GET', `${path}${query}`, options),
        await relay.call('GET', `${path}${query}&x=%20`, options),
      );
    }
    const encoded = expectOk(
      await relay.call('GET', `${path}?after=%31`, { agentId: 'alice' }),
      200,
      PollResponse,
    );
    expect(encoded.messages.map((m) => m.text)).toEqual(['two']);
    same(
      await relay.call('GET', '/v1/sessions/nope/messages', { agentId: 'alice' }),
      await relay.call('GET', '/v1/sessions/nope/messages?x=%20', { agentId: 'alice' }),
    );
  });

  it('answer sends and their errors as the Hono routes do', async () => {
    const relay = await TestRelay.use({ store: 'memory', maxMessageBytes: 1000 });
    const { sessionId } = await relay.sessionWithCreator('alice');
    const path = `/v1/sessions/${sessionId}/messages`;
    for (const raw of ['{"text":', '[1]', '{"text":""}', '{"text":5}', '{}']) {
      same(
        await relay.call('POST', path, { agentId: 'alice', raw }),
        await postChunked(relay, path, 'alice', raw),
      );
    }
    same(
      await relay.call('POST', path, { agentId: 'bob', json: { text: 'hi' } }),
      await postChunked(relay, path, 'bob', '{"text":"hi"}'),
    );
    const direct = await relay.call('POST', path, { agentId: 'alice', json: { text: 'a' } });
    const viaHono = await postChunked(relay, path, 'alice', '{"text":"b"}');
    expect([direct.status, viaHono.status]).toEqual([201, 201]);
    expect(direct.headers.get('content-type')).toBe(viaHono.headers.get('content-type'));
    expect(Object.keys(direct.body as object)).toEqual(Object.keys(viaHono.body as object));
    const polled = await relay.poll(sessionId, 'alice');
    expect(polled.messages.map((m) => [m.cursor, m.text])).toEqual([
      ['1', 'a'],
      ['2', 'b'],
    ]);
  });

  it('store nothing from a client that goes away mid-body, and keep answering', async () => {
    const relay = await TestRelay.use({ store: 'memory' });
    const { sessionId } = await relay.sessionWithCreator('alice');
    const { hostname, port } = new URL(relay.url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const body = '{"text":"never whole"}';
    socket.write(
      `POST /v1/sessions/${sessionId}/messages HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
        `X-Agent-Id: alice\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n` +
        body.slice(0, 10),
    );
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
    await relay.send(sessionId, 'alice', { text: 'whole' });
    const polled = await relay.poll(sessionId, 'alice');
    expect(polled.messages.map((m) => m.text)).toEqual(['whole']);
  });
});
