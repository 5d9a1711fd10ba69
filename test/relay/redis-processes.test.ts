import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayProcess } from './relay-process.js';
import { RedisServer } from './stores.js';

let redis: RedisServer;
let a: RelayProcess;
let b: RelayProcess;

beforeAll(async () => {
  redis = await RedisServer.start();
  [a, b] = await Promise.all([
    RelayProcess.start(['--store', redis.url]),
    RelayProcess.start(['--store', redis.url]),
  ]);
});
afterAll(async () => {
  await Promise.all([a?.kill(), b?.kill()]);
  await redis?.stop();
});

describe('two relay processes on one Redis', () => {
  it('behave as one relay: a session made on one is joined, sent to and polled on the other', async () => {
    const created = await a.call('PUT', '/v1/sessions', { json: { creatorAgentId: 'alice' } });
    const sessionId = created.body.sessionId as string;
    const key = created.body.sessionKey as string;
    expect(
      (await b.call('POST', `/v1/sessions/${sessionId}/join`, { agentId: 'bob' })).status,
    ).toBe(200);

    // Held on B; the send goes through A. A missed wake-up would answer empty after 20 s.
    const held = b.call('GET', `/v1/sessions/${sessionId}/messages?after=0&waitMs=20000`, {
      agentId: 'bob',
    });
    await expect
      .poll(async () => ((await b.call('GET', '/v1/stats')).body.pendingLongPolls as number) > 0)
      .toBe(true);
    await a.call('POST', `/v1/sessions/${sessionId}/messages`, {
      agentId: 'alice',
      sessionKey: key,
      json: { text: 'across' },
    });
    const woken = await held;
    expect(woken.body.messages).toMatchObject([{ cursor: '1', text: 'across' }]);
  });

  it('wake a poll held on the other process again and again (no subscription lost between polls)', async () => {
    const created = await a.call('PUT', '/v1/sessions', { json: { creatorAgentId: 'alice' } });
    const sessionId = created.body.sessionId as string;
    const key = created.body.sessionKey as string;
    await b.call('POST', `/v1/sessions/${sessionId}/join`, { agentId: 'bob' });
    let after = '0';
    for (let i = 0; i < 20; i++) {
      // A missed wake-up answers empty after 10 s and fails the assertion below.
      const held = b.call('GET', `/v1/sessions/${sessionId}/messages?after=${after}&waitMs=10000`, {
        agentId: 'bob',
      });
      await a.call('POST', `/v1/sessions/${sessionId}/messages`, {
        agentId: 'alice',
        sessionKey: key,
        json: { text: `m${i}` },
      });
      const woken = await held;
      expect(woken.body.messages).toMatchObject([{ text: `m${i}` }]);
      after = woken.body.nextCursor as string;
    }
  });

  it('never give out a duplicate or missing cursor to senders on both', async () => {
    const created = await a.call('PUT', '/v1/sessions', { json: { creatorAgentId: 'alice' } });
    const sessionId = created.body.sessionId as string;
    const key = created.body.sessionKey as string;
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? a : b).call('POST', `/v1/sessions/${sessionId}/messages`, {
          agentId: 'alice',
          sessionKey: key,
          json: { text: `m${i}` },
        }),
      ),
    );
    const cursors = replies.map((r) => Number(r.body.cursor)).sort((x, y) => x - y);
    expect(cursors).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    const fromA = await a.allMessages(sessionId, 'alice');
    const fromB = await b.allMessages(sessionId, 'alice');
    expect(fromA.map((m) => m.cursor)).toEqual(cursors.map(String));
    expect(fromB).toEqual(fromA);
  });
});
