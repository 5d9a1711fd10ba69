import { describe, expect, it } from 'vitest';
import { TestRelay } from '../relay/helpers.js';
import {
  appendUnderNewCursor,
  changeFirst,
  flipChar,
  type PollBody,
  RecordingProxy,
  reattribute,
} from './recording-proxy.js';

async function setup(spreadCursors = false) {
  const relay = await TestRelay.use();
  const proxy = await RecordingProxy.use(relay.url, { spreadCursors });
  const { sessionId, key } = await relay.sessionWithCreator('alice');
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${proxy.url}${path}`, {
      method,
      headers: {
        'X-Agent-Id': 'alice',
        'X-Session-Key': key,
        ...(body !== undefined && { 'Content-Type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const send = (text: string) => call('POST', `/v1/sessions/${sessionId}/messages`, { text });
  const poll = async (after?: string) =>
    (
      await call(
        'GET',
        `/v1/sessions/${sessionId}/messages${after === undefined ? '' : `?after=${after}`}`,
      )
    ).body as unknown as PollBody;
  return { relay, proxy, sessionId, key, send, poll };
}

describe('RecordingProxy', () => {
  it('forwards to the relay and records request lines, headers and bodies both ways', async () => {
    const { proxy, sessionId, key, send, poll } = await setup();
    expect((await send('hello there')).status).toBe(201);
    const { messages } = await poll('0');
    expect(messages.map((m) => m.text)).toEqual(['hello there']);
    const [sent, polled] = proxy.exchanges;
    expect(sent).toMatchObject({
      method: 'POST',
      url: `/v1/sessions/${sessionId}/messages`,
      status: 201,
    });
    expect(sent?.requestHeaders['x-session-key']).toBe(key);
    expect(JSON.parse(sent?.requestBody ?? '')).toEqual({ text: 'hello there' });
    expect(polled?.url).toBe(`/v1/sessions/${sessionId}/messages?after=0`);
    expect(polled?.responseBody).toBe(polled?.upstreamBody);
    expect(proxy.transcript()).toContain('hello there');
    expect(proxy.sentBodies()).toEqual([{ sessionId, body: { text: 'hello there' } }]);
  });

  it('flips a character and re-attributes a message in a poll, leaving the relay copy intact', async () => {
    const { proxy, send, poll } = await setup();
    await send('nxe1.abcdefgh');
    proxy.tamperNextPoll((body) =>
      changeFirst(body, 'nxe1.', (m) => reattribute(flipChar(m, 5), 'mallory')),
    );
    const [tampered] = (await poll('0')).messages;
    expect(tampered).toMatchObject({ text: 'nxe1.bbcdefgh', agentId: 'mallory' });
    expect(JSON.parse(proxy.exchanges.at(-1)?.upstreamBody ?? '').messages[0].text).toBe(
      'nxe1.abcdefgh',
    );
    const [untouched] = (await poll('0')).messages;
    expect(untouched).toMatchObject({ text: 'nxe1.abcdefgh', agentId: 'alice' });
  });

  it('spreads cursors so a re-served message gets a new cursor and nothing real is skipped', async () => {
    const { proxy, send, poll } = await setup(true);
    expect((await send('one')).body.cursor).toBe('16');
    const first = await poll('0');
    expect(first.messages.map((m) => [m.text, m.cursor])).toEqual([['one', '16']]);
    const old = proxy.served[0];
    if (!old) throw new Error('nothing served');
    await send('two');
    proxy.tamperNextPoll((body) => appendUnderNewCursor(body, old));
    const second = await poll(first.nextCursor);
    expect(second.messages.map((m) => [m.text, m.cursor])).toEqual([
      ['two', '32'],
      ['one', '33'],
    ]);
    expect(second.nextCursor).toBe('33');
    expect(second.messages[1]?.id).not.toBe(old.id);
    await send('three');
    const third = await poll(second.nextCursor);
    expect(third.messages.map((m) => [m.text, m.cursor])).toEqual([['three', '48']]);
    const quiet = await poll(third.nextCursor);
    expect(quiet).toMatchObject({ messages: [], nextCursor: '48' });
  });

  it('injects a message from another session, persistently until removed', async () => {
    const { relay, proxy, send, poll } = await setup(true);
    const other = await relay.sessionWithCreator('eve');
    await relay.send(other.sessionId, 'eve', { text: 'from elsewhere' }, other.key);
    const [foreign] = (await relay.poll(other.sessionId, 'eve', '?after=0')).messages;
    if (!foreign) throw new Error('no foreign message');
    await send('local');
    const stop = proxy.tamperPolls((body, context) =>
      context.agentId === 'alice' && body.messages.length > 0
        ? appendUnderNewCursor(body, foreign)
        : body,
    );
    expect((await poll('0')).messages.map((m) => m.text)).toEqual(['local', 'from elsewhere']);
    stop();
    expect((await poll('0')).messages.map((m) => m.text)).toEqual(['local']);
  });
});
