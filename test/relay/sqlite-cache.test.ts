/**
 * The SQLite store holds sessions and recent messages in memory and commits the writes of one
 * event-loop turn together: reads past what it holds, a batch that fails, and a restart must all
 * answer what SQLite holds.
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import {
  CACHED_MESSAGES,
  cachedSession,
  MAX_CACHED_SESSIONS,
  SessionCache,
} from '../../src/relay/sqlite-session-cache.js';
import { SqliteStorage } from '../../src/relay/sqlite-storage.js';
import type { MessageDraft, SessionRecord } from '../../src/relay/storage.js';
import { cleanup } from '../helpers/cleanup.js';
import { tempDir } from '../helpers/core.js';
import { T0 } from './helpers.js';

const TTL_MS = 600_000;

async function open(path: string, maxMessagesPerSession = 10_000): Promise<SqliteStorage> {
  const storage = await SqliteStorage.open({ path, maxMessagesPerSession, log: () => {} });
  cleanup(() => storage.close());
  return storage;
}

function session(sessionId: string): SessionRecord {
  return {
    sessionId: sessionId.padEnd(48, '0'),
    ttlSeconds: TTL_MS / 1000,
    maxAgents: 5,
    createdAt: T0,
    expiresAt: T0 + TTL_MS,
    lastCursor: 0,
    agents: [
      { agentId: 'alice', sessionKey: 'key-alice', joinedAt: T0, lastSeenAt: T0 },
      { agentId: 'bob', sessionKey: 'key-bob', joinedAt: T0, lastSeenAt: T0 },
    ],
  };
}

function draft(text: string, at = T0): MessageDraft {
  return {
    id: `msg_${text.slice(0, 20)}`,
    agentId: 'alice',
    text,
    verified: true,
    createdAt: at,
    expiresAt: at + TTL_MS,
  };
}

const texts = (messages: { text: string }[]) => messages.map((message) => message.text);
const cursors = (messages: { cursor: number }[]) => messages.map((message) => message.cursor);
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('the SQLite store', () => {
  it('reads past the messages it holds from SQLite, in order and gapless', async () => {
    const storage = await open(join(tempDir(), 'relay.db'));
    const { sessionId } = session('s1');
    await storage.createSession(session('s1'));
    const count = CACHED_MESSAGES * 3;
    for (let i = 1; i <= count; i++) await storage.appendMessage(sessionId, draft(`m${i}`));

    const all = await storage.readMessages(sessionId, undefined, 1_000, T0);
    expect(cursors(all)).toEqual(range(1, count));
    expect(texts(all)).toEqual(range(1, count).map((i) => `m${i}`));
    // Starting below the held window, just at its edge, inside it, and at the end.
    for (const after of [5, count - CACHED_MESSAGES - 1, count - CACHED_MESSAGES, count - 5]) {
      const read = await storage.readMessages(sessionId, after, 10, T0);
      expect(cursors(read)).toEqual(range(after + 1, Math.min(after + 10, count)));
    }
    expect(await storage.readMessages(sessionId, count, 10, T0)).toEqual([]);
  });

  it('holds fewer big messages and reads the rest back from SQLite', async () => {
    const storage = await open(join(tempDir(), 'relay.db'));
    const { sessionId } = session('s2');
    await storage.createSession(session('s2'));
    const big = (i: number) => `${i}:${'x'.repeat(30_000)}`;
    for (let i = 1; i <= 8; i++) await storage.appendMessage(sessionId, draft(big(i)));
    const all = await storage.readMessages(sessionId, 0, 100, T0);
    expect(texts(all)).toEqual(range(1, 8).map(big));
    expect(cursors(await storage.readMessages(sessionId, 2, 3, T0))).toEqual([3, 4, 5]);
  });

  it('keeps to the cap and to expiry when reading held messages', async () => {
    const storage = await open(join(tempDir(), 'relay.db'), 3);
    const { sessionId } = session('s3');
    await storage.createSession(session('s3'));
    for (let i = 1; i <= 10; i++) await storage.appendMessage(sessionId, draft(`m${i}`, T0 + i));
    expect(cursors(await storage.readMessages(sessionId, 0, 100, T0))).toEqual([8, 9, 10]);
    // Message i expires at T0 + i + TTL_MS.
    expect(cursors(await storage.readMessages(sessionId, 0, 100, T0 + TTL_MS + 9))).toEqual([10]);
  });

  it('reads back after a restart what it held: members, touches, leaves, messages, cursors', async () => {
    const path = join(tempDir(), 'relay.db');
    let storage = await open(path);
    const { sessionId } = session('s4');
    await storage.createSession(session('s4'));
    for (let i = 1; i <= CACHED_MESSAGES + 6; i++) {
      await storage.appendMessage(sessionId, draft(`m${i}`, T0 + i));
    }
    await storage.addAgent(sessionId, {
      agentId: 'carol',
      sessionKey: 'key-carol',
      joinedAt: T0 + 100,
      lastSeenAt: T0 + 100,
    });
    await storage.removeAgent(sessionId, 'bob');
    await storage.touch(sessionId, 'carol', T0 + 200, 900);
    const before = await storage.getSession(sessionId);
    const messages = await storage.readMessages(sessionId, undefined, 1_000, T0 + 300);
    await storage.close();

    storage = await open(path);
    // The last few first: read into memory after a restart, then served from there.
    const last = CACHED_MESSAGES + 6;
    expect(cursors(await storage.readMessages(sessionId, last - 4, 10, T0 + 300))).toEqual(
      range(last - 3, last),
    );
    expect(await storage.getSession(sessionId)).toEqual(before);
    expect(before).toMatchObject({
      ttlSeconds: 900,
      expiresAt: T0 + 200 + 900_000,
      lastCursor: CACHED_MESSAGES + 6,
    });
    expect(before?.agents.map((agent) => [agent.agentId, agent.lastSeenAt])).toEqual([
      ['alice', T0 + CACHED_MESSAGES + 6],
      ['carol', T0 + 200],
    ]);
    expect(await storage.readMessages(sessionId, undefined, 1_000, T0 + 300)).toEqual(messages);
    const next = await storage.appendMessage(sessionId, draft('after restart', T0 + 400));
    expect(next?.cursor).toBe(CACHED_MESSAGES + 7);
  });

  it('after a restart, reads older messages in behind a send still being committed', async () => {
    const path = join(tempDir(), 'relay.db');
    let storage = await open(path);
    const { sessionId } = session('s7');
    await storage.createSession(session('s7'));
    for (let i = 1; i <= 5; i++) await storage.appendMessage(sessionId, draft(`m${i}`));
    await storage.close();

    storage = await open(path);
    const sent = storage.appendMessage(sessionId, draft('m6'));
    expect(texts(await storage.readMessages(sessionId, 2, 10, T0))).toEqual(['m3', 'm4', 'm5']);
    expect((await sent)?.cursor).toBe(6);
    expect(cursors(await storage.readMessages(sessionId, 0, 10, T0))).toEqual(range(1, 6));
  });

  it(`answers for more sessions than it holds (${MAX_CACHED_SESSIONS})`, async () => {
    const storage = await open(join(tempDir(), 'relay.db'));
    const ids: string[] = [];
    for (let i = 0; i < MAX_CACHED_SESSIONS + 20; i++) {
      const record = session(`many${i}_`);
      ids.push(record.sessionId);
      expect(await storage.createSession(record)).toBe('created');
      await storage.appendMessage(record.sessionId, draft(`first of ${i}`));
    }
    for (const [i, sessionId] of ids.entries()) {
      await storage.appendMessage(sessionId, draft(`second of ${i}`));
    }
    for (const [i, sessionId] of ids.entries()) {
      const read = await storage.readMessages(sessionId, undefined, 10, T0);
      expect(texts(read)).toEqual([`first of ${i}`, `second of ${i}`]);
      expect((await storage.getSession(sessionId))?.lastCursor).toBe(2);
    }
  }, 60_000);

  it('shows a message to readers and watchers only once its batch committed', async () => {
    const storage = await open(join(tempDir(), 'relay.db'));
    const { sessionId } = session('s6');
    await storage.createSession(session('s6'));
    const told: number[] = [];
    storage.subscribe((_id, cursor) => told.push(cursor));
    const sent = storage.appendMessage(sessionId, draft('pending'));
    expect(await storage.readMessages(sessionId, 0, 10, T0)).toEqual([]);
    expect(told).toEqual([]);
    expect((await sent)?.cursor).toBe(1);
    expect(told).toEqual([1]);
    expect(texts(await storage.readMessages(sessionId, 0, 10, T0))).toEqual(['pending']);
  });

  it('rejects every write of a batch one of them failed in, and holds none of them', async () => {
    const path = join(tempDir(), 'relay.db');
    let storage = await open(path);
    const { sessionId } = session('s5');
    await storage.createSession(session('s5'));
    await storage.appendMessage(sessionId, draft('kept'));
    const told: number[] = [];
    storage.subscribe((_id, cursor) => told.push(cursor));
    // A real failure inside SQLite, added through a connection of its own.
    const other = new DatabaseSync(path);
    other.exec(`CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.text = 'refused'
      BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    other.close();

    // One turn: these share a batch until the third write fails; the fourth opens the next one.
    const first = storage.appendMessage(sessionId, draft('in the failed batch', T0 + 1));
    const renew = storage.touch(sessionId, 'bob', T0 + 1, 60);
    const failing = storage.appendMessage(sessionId, draft('refused', T0 + 1));
    const after = storage.appendMessage(sessionId, draft('next batch', T0 + 2));
    await expect(first).rejects.toThrow(/refused by the test/);
    await expect(renew).rejects.toThrow(/refused by the test/);
    await expect(failing).rejects.toThrow(/refused by the test/);
    // The failed batch's cursor was never acknowledged nor readable: the next write takes it.
    expect((await after)?.cursor).toBe(2);
    expect(told).toEqual([2]);

    const expected = ['kept', 'next batch'];
    expect(texts(await storage.readMessages(sessionId, 0, 10, T0))).toEqual(expected);
    const held = await storage.getSession(sessionId);
    expect(held).toMatchObject({ ttlSeconds: TTL_MS / 1000, lastCursor: 2 });
    expect(held?.agents.find((agent) => agent.agentId === 'bob')?.lastSeenAt).toBe(T0);
    await storage.close();

    storage = await open(path);
    expect(texts(await storage.readMessages(sessionId, 0, 10, T0))).toEqual(expected);
    expect(await storage.getSession(sessionId)).toEqual(held);
  });
});

describe('SessionCache', () => {
  it(`evicts down to ${MAX_CACHED_SESSIONS} sessions, those used since the last pass last`, () => {
    const cache = new SessionCache();
    const ids = range(0, MAX_CACHED_SESSIONS + 99).map((i) => `c${i}`);
    for (const id of ids) cache.set(id, cachedSession(session(id)));
    // Every entry starts used; a first pass clears them all, then evicts the oldest.
    cache.evictOverflow();
    expect(cache.size).toBe(MAX_CACHED_SESSIONS);
    expect(cache.get('c0')).toBeUndefined();
    // c100 is the oldest left; reading it saves it from the next eviction.
    expect(cache.get('c100')).toBeDefined();
    cache.set('extra', cachedSession(session('extra')));
    cache.evictOverflow();
    expect(cache.size).toBe(MAX_CACHED_SESSIONS);
    expect(cache.get('c100')).toBeDefined();
    expect(cache.get('c101')).toBeUndefined();
  });
});
