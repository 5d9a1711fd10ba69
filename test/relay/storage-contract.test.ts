import { expect, it } from 'vitest';
import { openStorage } from '../../src/relay/open-storage.js';
import { resolveRelayOptions } from '../../src/relay/options.js';
import type {
  AgentRecord,
  MessageDraft,
  RelayStorage,
  SessionRecord,
} from '../../src/relay/storage.js';
import { cleanup } from '../helpers/cleanup.js';
import { T0 } from './helpers.js';
import { describeEachStore, storeOptions } from './stores.js';

async function open(maxMessagesPerSession = 100): Promise<RelayStorage> {
  const storage = await openStorage(
    resolveRelayOptions({ ...storeOptions(), maxMessagesPerSession, log: () => undefined }),
  );
  cleanup(() => storage.close());
  return storage;
}

let serial = 0;
function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  serial++;
  return {
    sessionId: `s${serial}`.padEnd(48, '0'),
    ttlSeconds: 600,
    maxAgents: 5,
    createdAt: T0,
    expiresAt: T0 + 600_000,
    lastCursor: 0,
    agents: [],
    ...overrides,
  };
}

function agent(agentId: string, at = T0): AgentRecord {
  return { agentId, sessionKey: `key-${agentId}:with:colons`, joinedAt: at, lastSeenAt: at };
}

function draft(text: string, overrides: Partial<MessageDraft> = {}): MessageDraft {
  return {
    id: `msg_${text}`,
    agentId: 'alice',
    text,
    verified: true,
    createdAt: T0,
    expiresAt: T0 + 600_000,
    ...overrides,
  };
}

describeEachStore('storage contract', () => {
  it('creates, reads copies of, lists and deletes sessions', async () => {
    const storage = await open();
    const record = session({ greeting: 'hi', creatorAgentId: 'alice', agents: [agent('alice')] });
    expect(await storage.createSession(record)).toBe('created');
    expect(await storage.createSession(record)).toBe('taken');
    const read = await storage.getSession(record.sessionId);
    expect(read).toEqual(record);
    read?.agents.push(agent('mallory'));
    expect((await storage.getSession(record.sessionId))?.agents).toHaveLength(1);
    expect(await storage.listSessionIds()).toEqual([record.sessionId]);
    await storage.deleteSession(record.sessionId);
    expect(await storage.getSession(record.sessionId)).toBeUndefined();
    expect(await storage.listSessionIds()).toEqual([]);
  });

  it('touches: sliding expiry, a new ttl, the agent seen', async () => {
    const storage = await open();
    const record = session({ agents: [agent('alice')] });
    await storage.createSession(record);
    const touched = await storage.touch(record.sessionId, 'alice', T0 + 5_000);
    expect(touched).toMatchObject({ expiresAt: T0 + 605_000, ttlSeconds: 600 });
    expect(touched?.agents[0]?.lastSeenAt).toBe(T0 + 5_000);
    const renewed = await storage.touch(record.sessionId, 'nobody', T0 + 6_000, 60);
    expect(renewed).toMatchObject({ expiresAt: T0 + 66_000, ttlSeconds: 60 });
    expect(renewed?.agents[0]?.lastSeenAt).toBe(T0 + 5_000);
    expect(await storage.touch('missing'.padEnd(48, '0'), 'alice', T0)).toBeUndefined();
  });

  it('adds and removes agents, in join order, up to maxAgents', async () => {
    const storage = await open();
    const record = session({ maxAgents: 3, agents: [agent('alice')] });
    await storage.createSession(record);
    expect(await storage.addAgent(record.sessionId, agent('bob'))).toBe('added');
    expect(await storage.addAgent(record.sessionId, agent('bob'))).toBe('taken');
    expect(await storage.addAgent(record.sessionId, agent('carol'))).toBe('added');
    expect(await storage.addAgent(record.sessionId, agent('dave'))).toBe('full');
    expect(await storage.addAgent('missing'.padEnd(48, '0'), agent('x'))).toBe('missing');
    const read = await storage.getSession(record.sessionId);
    expect(read?.agents.map((a) => a.agentId)).toEqual(['alice', 'bob', 'carol']);
    expect(read?.agents[1]).toEqual(agent('bob'));
    expect(await storage.removeAgent(record.sessionId, 'bob')).toBe(true);
    expect(await storage.removeAgent(record.sessionId, 'bob')).toBe(false);
    expect(await storage.addAgent(record.sessionId, agent('dave'))).toBe('added');
    expect((await storage.getSession(record.sessionId))?.agents.map((a) => a.agentId)).toEqual([
      'alice',
      'carol',
      'dave',
    ]);
  });

  it('appends with consecutive cursors, keeps json as text, reads after a cursor in order', async () => {
    const storage = await open();
    const record = session();
    await storage.createSession(record);
    const first = await storage.appendMessage(record.sessionId, draft('a'));
    const second = await storage.appendMessage(
      record.sessionId,
      draft('b', { jsonText: '{"x":[1,2]}', verified: false }),
    );
    expect(first?.cursor).toBe(1);
    expect(second).toEqual({
      ...draft('b', { jsonText: '{"x":[1,2]}', verified: false }),
      cursor: 2,
    });
    expect(await storage.appendMessage('missing'.padEnd(48, '0'), draft('c'))).toBeUndefined();
    expect(await storage.readMessages(record.sessionId, undefined, 10, T0)).toEqual([
      first,
      second,
    ]);
    expect(await storage.readMessages(record.sessionId, 1, 10, T0)).toEqual([second]);
    expect(await storage.readMessages(record.sessionId, 0, 1, T0)).toEqual([first]);
    expect(await storage.readMessages(record.sessionId, 2, 10, T0)).toEqual([]);
    expect((await storage.getSession(record.sessionId))?.lastCursor).toBe(2);
  });

  it('slides the expiry and marks the sender seen with each append, in the same write', async () => {
    const storage = await open();
    const record = session({
      ttlSeconds: 60,
      expiresAt: T0 + 60_000,
      agents: [agent('alice'), agent('bob')],
    });
    await storage.createSession(record);
    await storage.appendMessage(record.sessionId, draft('a', { createdAt: T0 + 30_000 }));
    const read = await storage.getSession(record.sessionId);
    expect(read?.expiresAt).toBe(T0 + 90_000);
    expect(read?.agents.map((a) => a.lastSeenAt)).toEqual([T0 + 30_000, T0]);
  });

  it('appends after the send checks in one write where the store offers it, or writes nothing', async () => {
    const storage = await open();
    if (!storage.appendIfAllowed) return; // Stores without it answer the checks in Node.
    const record = session({ creatorAgentId: 'alice', agents: [agent('alice'), agent('bob')] });
    await storage.createSession(record);
    const { sessionId } = record;
    const { expiresAt: _, ...base } = draft('hi');
    const at = T0 + 30_000;
    const refused: [string, Parameters<NonNullable<RelayStorage['appendIfAllowed']>>][] = [
      ['an unknown session', ['s-none'.padEnd(48, '0'), base, { key: undefined, idleMs: 0 }]],
      ['a non-member', [sessionId, { ...base, agentId: 'mallory' }, { key: undefined, idleMs: 0 }]],
      ['a wrong key', [sessionId, base, { key: 'key-bob:with:colons', idleMs: 0 }]],
      [
        'an expired session',
        [sessionId, { ...base, createdAt: T0 + 600_000 }, { key: undefined, idleMs: 0 }],
      ],
      [
        'an idle member',
        [sessionId, { ...base, agentId: 'bob', createdAt: at }, { key: undefined, idleMs: 30_000 }],
      ],
    ];
    for (const [what, args] of refused) {
      expect(await storage.appendIfAllowed(...args), what).toBeUndefined();
    }
    expect((await storage.getSession(sessionId))?.lastCursor).toBe(0);
    // The creator is never idle; the right key passes.
    const sent = await storage.appendIfAllowed(
      sessionId,
      { ...base, createdAt: at },
      {
        key: 'key-alice:with:colons',
        idleMs: 30_000,
      },
    );
    expect(sent).toEqual({ ...base, createdAt: at, cursor: 1, expiresAt: at + 600_000 });
    expect(await storage.readMessages(sessionId, undefined, 10, at)).toEqual([sent]);
    const after = await storage.getSession(sessionId);
    expect(after?.expiresAt).toBe(at + 600_000);
    expect(after?.agents[0]?.lastSeenAt).toBe(at);
  });

  it('drops the oldest messages past the cap, never the cursor count', async () => {
    const storage = await open(3);
    const record = session();
    await storage.createSession(record);
    for (const text of ['a', 'b', 'c', 'd', 'e'])
      await storage.appendMessage(record.sessionId, draft(text));
    const held = await storage.readMessages(record.sessionId, undefined, 10, T0);
    expect(held.map((m) => [m.cursor, m.text])).toEqual([
      [3, 'c'],
      [4, 'd'],
      [5, 'e'],
    ]);
  });

  it('hides messages expired at the read time', async () => {
    const storage = await open();
    const record = session();
    await storage.createSession(record);
    await storage.appendMessage(record.sessionId, draft('old', { expiresAt: T0 + 1_000 }));
    await storage.appendMessage(record.sessionId, draft('new', { expiresAt: T0 + 9_000 }));
    const read = await storage.readMessages(record.sessionId, undefined, 10, T0 + 1_000);
    expect(read.map((m) => m.text)).toEqual(['new']);
  });

  it('tells watchers of appends to a watched session', async () => {
    const storage = await open();
    const record = session();
    await storage.createSession(record);
    const heard: [string, number][] = [];
    const unsubscribe = storage.subscribe((sessionId, cursor) => heard.push([sessionId, cursor]));
    const unwatch = await storage.watch(record.sessionId);
    await storage.appendMessage(record.sessionId, draft('a'));
    await expect.poll(() => heard).toEqual([[record.sessionId, 1]]);
    unwatch();
    unsubscribe();
  });

  it('gives concurrent appends distinct, gapless cursors', async () => {
    const storage = await open(1_000);
    const record = session();
    await storage.createSession(record);
    const sent = await Promise.all(
      Array.from({ length: 50 }, (_, i) => storage.appendMessage(record.sessionId, draft(`m${i}`))),
    );
    const cursors = sent.map((m) => m?.cursor).sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(cursors).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('lets exactly maxAgents of many concurrent joins in, and one of many claims win', async () => {
    const storage = await open();
    const record = session({ maxAgents: 4 });
    await storage.createSession(record);
    const joins = await Promise.all(
      Array.from({ length: 12 }, (_, i) => storage.addAgent(record.sessionId, agent(`a${i}`))),
    );
    expect(joins.filter((r) => r === 'added')).toHaveLength(4);
    expect(joins.filter((r) => r === 'full')).toHaveLength(8);

    const code = {
      code: 'ABCD-2345',
      sessionId: record.sessionId,
      createdAt: T0,
      expiresAt: T0 + 600_000,
    };
    expect(await storage.putPairCode(code)).toBe(true);
    const claims = await Promise.all(
      Array.from({ length: 10 }, () => storage.claimPairCode(code.code, T0 + 1)),
    );
    expect(claims.filter((r) => r === 'claimed')).toHaveLength(1);
    expect(claims.filter((r) => r === 'unavailable')).toHaveLength(9);
  });

  it('keeps pair codes: unique, claimed once, released, unavailable once expired', async () => {
    const storage = await open();
    const code = {
      code: 'WXYZ-6789',
      sessionId: 's'.padEnd(48, '0'),
      createdAt: T0,
      expiresAt: T0 + 60_000,
    };
    expect(await storage.putPairCode(code)).toBe(true);
    expect(await storage.putPairCode({ ...code, sessionId: 't'.padEnd(48, '0') })).toBe(false);
    expect(await storage.getPairCode(code.code)).toEqual(code);
    expect(await storage.claimPairCode(code.code, T0 + 1)).toBe('claimed');
    expect(await storage.getPairCode(code.code)).toEqual({ ...code, claimedAt: T0 + 1 });
    expect(await storage.claimPairCode(code.code, T0 + 2)).toBe('unavailable');
    await storage.releasePairCode(code.code);
    expect(await storage.getPairCode(code.code)).toEqual(code);
    expect(await storage.claimPairCode(code.code, T0 + 60_000)).toBe('unavailable');
    expect(await storage.claimPairCode('NONE-0000', T0)).toBe('missing');
    expect(await storage.getPairCode('NONE-0000')).toBeUndefined();
  });

  it('counts unexpired sessions, their agents and messages', async () => {
    const storage = await open();
    const live = session({ agents: [agent('alice'), agent('bob')] });
    const dead = session({ ttlSeconds: 1, expiresAt: T0 + 1_000, agents: [agent('carol')] });
    await storage.createSession(live);
    await storage.createSession(dead);
    await storage.appendMessage(live.sessionId, draft('a'));
    await storage.appendMessage(dead.sessionId, draft('b'));
    expect(await storage.counts(T0 + 2_000)).toEqual({ sessions: 1, agents: 2, messages: 1 });
  });

  it('refuses a session past the owner cap, counting only live ones', async () => {
    const storage = await open();
    const owner = { address: 'digest-1', maxSessions: 2 };
    expect(await storage.createSession(session({ expiresAt: T0 + 1_000 }), owner)).toBe('created');
    expect(await storage.createSession(session(), owner)).toBe('created');
    expect(await storage.createSession(session(), owner)).toBe('limit');
    expect(await storage.createSession(session(), { ...owner, address: 'digest-2' })).toBe(
      'created',
    );
    expect(await storage.createSession(session({ createdAt: T0 + 1_000 }), owner)).toBe('created');
  });

  it('counts requests in fixed 60-second windows per address', async () => {
    const storage = await open();
    expect(await storage.countRequest('a', T0)).toEqual({ count: 1, windowStart: T0 });
    expect(await storage.countRequest('a', T0 + 59_999)).toEqual({ count: 2, windowStart: T0 });
    expect(await storage.countRequest('b', T0 + 1)).toEqual({ count: 1, windowStart: T0 + 1 });
    expect(await storage.countRequest('a', T0 + 60_000)).toEqual({
      count: 1,
      windowStart: T0 + 60_000,
    });
  });

  it('drops what expired (or leaves it to the store’s own expiry) without touching live data', async () => {
    const storage = await open();
    const live = session();
    const dead = session({ expiresAt: T0 + 1_000 });
    await storage.createSession(live);
    await storage.createSession(dead);
    await storage.appendMessage(live.sessionId, draft('gone', { expiresAt: T0 + 1_000 }));
    await storage.appendMessage(live.sessionId, draft('kept'));
    await storage.dropExpired(T0 + 1_000);
    expect(await storage.getSession(live.sessionId)).toBeDefined();
    const kept = await storage.readMessages(live.sessionId, undefined, 10, T0 + 1_000);
    expect(kept.map((m) => m.text)).toEqual(['kept']);
    expect(await storage.counts(T0 + 1_000)).toMatchObject({ sessions: 1 });
  });
});
