import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  LeaveResponse,
  PairStatusResponse,
  SessionStatusResponse,
} from '../../src/protocol/index.js';
import type { RelayOptions } from '../../src/relay/index.js';
import { expectError, expectOk, FakeClock, TestRelay } from './helpers.js';
import { RedisServer } from './stores.js';

let root: string;
let dataDir: string;
let relay: TestRelay | undefined;
let redis: RedisServer | undefined;
let prefix = 0;

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'nexus-relay-'));
  dataDir = join(root, 'data');
  prefix++;
});
afterEach(async () => {
  await relay?.close();
  relay = undefined;
  rmSync(root, { recursive: true, force: true });
});

/** The same store on every start of one test: the data dir's relay.db, or one Redis key prefix. */
function durable(kind: 'sqlite' | 'redis'): RelayOptions {
  return kind === 'sqlite'
    ? { dataDir }
    : { store: redis?.url ?? '', redisKeyPrefix: `persist-${process.pid}-${prefix}:` };
}

describe.each(['sqlite', 'redis'] as const)('a durable store [%s] across restarts', (kind) => {
  async function start(clock: FakeClock, options: RelayOptions = {}): Promise<TestRelay> {
    relay = await TestRelay.start({ ...durable(kind), ...options }, clock);
    return relay;
  }

  async function restart(clock: FakeClock): Promise<TestRelay> {
    await relay?.close();
    return start(clock);
  }

  it('keeps sessions, members, keys and messages; never reuses a cursor', async () => {
    const clock = new FakeClock();
    let r = await start(clock);
    const { sessionId, key: aliceKey } = await r.sessionWithCreator('alice', { greeting: 'hi' });
    const bob = await r.join(sessionId, 'bob');
    for (const text of ['one', 'two', 'three'])
      await r.send(sessionId, 'alice', { text }, aliceKey);
    await r.send(sessionId, 'alice', { json: { deep: [1, { two: 2 }] } }, aliceKey);

    r = await restart(clock);
    const status = expectOk(
      await r.call('GET', `/v1/sessions/${sessionId}`),
      200,
      SessionStatusResponse,
    );
    expect(status.agents).toEqual(['alice', 'bob']);
    expect(status.creatorAgentId).toBe('alice');
    const polled = await r.poll(sessionId, 'bob');
    expect(polled.messages.map((m) => m.text)).toEqual(['hi', 'one', 'two', 'three', '']);
    expect(polled.messages.at(-1)).toMatchObject({ cursor: '4', json: { deep: [1, { two: 2 }] } });
    expect(await r.poll(sessionId, 'bob', '?after=4')).toEqual({ messages: [], nextCursor: '4' });

    // Keys still verify, and cursors continue past the ones handed out before.
    const sent = await r.send(sessionId, 'alice', { text: 'five' }, aliceKey);
    expect(sent.cursor).toBe('5');
    expect((await r.poll(sessionId, 'bob', '?after=4')).messages).toMatchObject([
      { cursor: '5', text: 'five', verified: true },
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

    // A second restart keeps the leave and the cursor moving.
    r = await restart(clock);
    expect((await r.send(sessionId, 'alice', { text: 'six' }, aliceKey)).cursor).toBe('6');
    const after = expectOk(
      await r.call('GET', `/v1/sessions/${sessionId}`),
      200,
      SessionStatusResponse,
    );
    expect(after.agents).toEqual(['alice']);
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
});

describe('the SQLite file', () => {
  async function start(clock: FakeClock, options: RelayOptions = {}): Promise<TestRelay> {
    relay = await TestRelay.start({ dataDir, ...options }, clock);
    return relay;
  }

  it('is relay.db in the data dir, 0600 in a 0700 directory, with -wal and -shm 0600 too', async () => {
    const clock = new FakeClock();
    const r = await start(clock);
    const { sessionId, key } = await r.sessionWithCreator('alice');
    await r.send(sessionId, 'alice', { text: 'hello' }, key);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    for (const name of ['relay.db', 'relay.db-wal', 'relay.db-shm']) {
      expect(statSync(join(dataDir, name)).mode & 0o777).toBe(0o600);
    }
  });

  it('refuses a file that is not a database, with one line naming it, and leaves it as it was', async () => {
    const clock = new FakeClock();
    const file = join(dataDir, 'relay.db');
    await start(clock);
    await relay?.close();
    relay = undefined;
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(file, garbage);
    const started = start(clock);
    await expect(started).rejects.toThrow(file);
    await expect(started).rejects.toThrow(/left untouched/);
    expect(readFileSync(file)).toEqual(garbage);
  });

  it('refuses a database written by a newer relay, untouched', async () => {
    const clock = new FakeClock();
    const file = join(dataDir, 'relay.db');
    await start(clock);
    await relay?.close();
    relay = undefined;
    const db = new DatabaseSync(file);
    db.exec('PRAGMA user_version = 99');
    db.close();
    const before = readFileSync(file);
    await expect(start(clock)).rejects.toThrow(/newer relay \(schema 99/);
    expect(readFileSync(file)).toEqual(before);
  });

  it('refuses an SQLite database that is not a relay store', async () => {
    const clock = new FakeClock();
    const file = join(root, 'other.db');
    const db = new DatabaseSync(file);
    db.exec('CREATE TABLE notes (body TEXT)');
    db.exec("INSERT INTO notes VALUES ('mine')");
    db.close();
    await expect(start(clock, { store: `sqlite:${file}` })).rejects.toThrow(/not a relay store/);
    const again = new DatabaseSync(file);
    expect(again.prepare('SELECT body FROM notes').all()).toEqual([{ body: 'mine' }]);
    again.close();
  });

  it('keeps memory-only relays off the disk', async () => {
    const clock = new FakeClock();
    relay = await TestRelay.start({ store: 'memory' }, clock);
    await relay.sessionWithCreator('alice');
    await relay.close();
    relay = undefined;
    expect(() => statSync(dataDir)).toThrow();
  });
});
