import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  LeaveResponse,
  PairStatusResponse,
  SessionStatusResponse,
} from '../../src/protocol/index.js';
import type { RelayOptions } from '../../src/relay/index.js';
import { expectError, expectOk, FakeClock, TestRelay } from './helpers.js';

let root: string;
let dataDir: string;
let relay: TestRelay | undefined;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nexus-relay-'));
  dataDir = join(root, 'data');
});
afterEach(async () => {
  await relay?.close();
  relay = undefined;
  rmSync(root, { recursive: true, force: true });
});

async function start(clock: FakeClock, options: RelayOptions = {}): Promise<TestRelay> {
  relay = await TestRelay.start({ dataDir, ...options }, clock);
  return relay;
}

async function restart(clock: FakeClock): Promise<TestRelay> {
  await relay?.close();
  return start(clock);
}

describe('metadata on disk', () => {
  it('keeps sessions, members and keys across a restart, drops messages, never reuses a cursor', async () => {
    const clock = new FakeClock();
    let r = await start(clock);
    const { sessionId, key: aliceKey } = await r.sessionWithCreator('alice', { greeting: 'hi' });
    const bob = await r.join(sessionId, 'bob');
    for (const text of ['one', 'two', 'three'])
      await r.send(sessionId, 'alice', { text }, aliceKey);

    r = await restart(clock);
    const status = expectOk(
      await r.call('GET', `/v1/sessions/${sessionId}`),
      200,
      SessionStatusResponse,
    );
    expect(status.agents).toEqual(['alice', 'bob']);
    expect(status.creatorAgentId).toBe('alice');
    const polled = await r.poll(sessionId, 'bob');
    expect(polled.messages.map((m) => m.text)).toEqual(['hi']);
    expect(await r.poll(sessionId, 'bob', '?after=3')).toEqual({ messages: [], nextCursor: '3' });

    // Keys still verify, and cursors continue past the ones handed out before.
    const sent = await r.send(sessionId, 'alice', { text: 'four' }, aliceKey);
    expect(sent.cursor).toBe('4');
    expect((await r.poll(sessionId, 'bob', '?after=3')).messages).toMatchObject([
      { cursor: '4', text: 'four', verified: true },
    ]);
    expectError(
      await r.call('POST', `/v1/sessions/${sessionId}/join`, { agentId: 'bob' }),
      409,
      'agent_id_taken',
    );
    const left = await r.call('DELETE', `/v1/sessions/${sessionId}/agents/bob`, {
      agentId: 'bob',
      sessionKey: bob.sessionKey,
    });
    expect(expectOk(left, 200, LeaveResponse).ok).toBe(true);

    // A second restart keeps the cursor moving too.
    r = await restart(clock);
    expect((await r.send(sessionId, 'alice', { text: 'five' }, aliceKey)).cursor).toBe('5');
  });

  it('writes the file 0600 in a 0700 directory, without message text', async () => {
    const clock = new FakeClock();
    const r = await start(clock);
    const { sessionId, key } = await r.sessionWithCreator('alice');
    await r.send(sessionId, 'alice', { text: 'do not persist me' }, key);
    await r.close();
    relay = undefined;
    const file = join(dataDir, 'sessions.json');
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const content = readFileSync(file, 'utf8');
    expect(content).toContain(sessionId);
    expect(content).toContain(key);
    expect(content).not.toContain('do not persist me');
  });

  it('drops sessions that expired while the relay was down', async () => {
    const clock = new FakeClock();
    let r = await start(clock);
    const short = await r.sessionWithCreator('alice', { ttl: 60 });
    const long = await r.sessionWithCreator('alice', { ttl: 600 });
    clock.advanceSeconds(61);
    r = await restart(clock);
    expectError(await r.call('GET', `/v1/sessions/${short.sessionId}`), 404, 'session_not_found');
    expect((await r.call('GET', `/v1/sessions/${long.sessionId}`)).status).toBe(200);
    expect((await r.stats()).activeSessions).toBe(1);
  });

  it('keeps pairing codes across a restart', async () => {
    const clock = new FakeClock();
    let r = await start(clock);
    const { sessionId } = await r.sessionWithCreator('alice');
    const used = await r.call('PUT', '/v1/pair', { json: { sessionId } });
    const pending = await r.call('PUT', '/v1/pair', { json: { sessionId } });
    const usedCode = (used.body as { code: string }).code;
    const pendingCode = (pending.body as { code: string }).code;
    await r.call('POST', `/v1/pair/${usedCode}/claim`, { agentId: 'bob' });

    r = await restart(clock);
    const state = async (code: string) =>
      expectOk(await r.call('GET', `/v1/pair/${code}/status`), 200, PairStatusResponse).state;
    expect(await state(usedCode)).toBe('claimed');
    expect(await state(pendingCode)).toBe('pending');
    expect(
      (await r.call('POST', `/v1/pair/${pendingCode}/claim`, { agentId: 'carol' })).status,
    ).toBe(200);
  });

  it('starts empty, and says so, when the file is unreadable', async () => {
    const clock = new FakeClock();
    let r = await start(clock);
    await r.sessionWithCreator('alice');
    await r.close();
    relay = undefined;
    writeFileSync(join(dataDir, 'sessions.json'), '{"version": 1, "sessions": [{"oops": true}]}');
    r = await start(clock);
    expect((await r.stats()).activeSessions).toBe(0);
    expect(r.logs).toEqual([expect.stringContaining('ignoring')]);
  });

  it('never logs the ids or keys of a file that is not JSON', async () => {
    const clock = new FakeClock();
    let r = await start(clock);
    const { sessionId, key } = await r.sessionWithCreator('alice');
    await r.close();
    relay = undefined;
    const file = join(dataDir, 'sessions.json');
    // A parser error quotes the text around the fault: put the fault next to the secrets.
    writeFileSync(file, readFileSync(file, 'utf8').replace(`"${key}"`, `x"${key}"`));
    r = await start(clock);
    expect(r.logs).toEqual([expect.stringContaining('not valid JSON')]);
    expect(r.logs.join('\n')).not.toContain(sessionId.slice(0, 8));
    expect(r.logs.join('\n')).not.toContain(key.slice(0, 8));
  });

  it('keeps memory-only relays off the disk', async () => {
    const clock = new FakeClock();
    relay = await TestRelay.start({}, clock);
    await relay.sessionWithCreator('alice');
    await relay.close();
    relay = undefined;
    expect(() => statSync(dataDir)).toThrow();
  });
});
