/**
 * Upgrading a relay that kept `sessions.json` (before the SQLite store): the built relay, started
 * on the old data dir, carries every live session, member key and pairing code over, once.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importSessionsJson } from '../../src/relay/sessions-json-import.js';
import { SqliteStorage } from '../../src/relay/sqlite-storage.js';
import { cleanup } from '../helpers/cleanup.js';
import { tempDir } from '../helpers/core.js';
import { RelayProcess } from './relay-process.js';

const HOUR = 3_600_000;
const LIVE_ID = 'a1'.repeat(24);
const EXPIRED_ID = 'b2'.repeat(24);
const ALICE_KEY = 'c3'.repeat(32);
const BOB_KEY = 'd4'.repeat(32);
const LAST_CURSOR = 41;

/** What a relay before the SQLite store wrote: version 1, metadata only. */
function legacyFile(now: number) {
  return {
    version: 1,
    savedAt: new Date(now).toISOString(),
    sessions: [
      {
        sessionId: LIVE_ID,
        ttlSeconds: 3600,
        maxAgents: 5,
        greeting: 'welcome back',
        creatorAgentId: 'alice',
        createdAt: now - HOUR,
        expiresAt: now + HOUR,
        lastCursor: LAST_CURSOR,
        agents: [
          { agentId: 'alice', sessionKey: ALICE_KEY, joinedAt: now - HOUR, lastSeenAt: now },
          { agentId: 'bob', sessionKey: BOB_KEY, joinedAt: now - HOUR, lastSeenAt: now },
        ],
      },
      {
        sessionId: EXPIRED_ID,
        ttlSeconds: 60,
        maxAgents: 5,
        createdAt: now - 2 * HOUR,
        expiresAt: now - HOUR,
        lastCursor: 3,
        agents: [{ agentId: 'eve', sessionKey: 'e5'.repeat(32), joinedAt: 0, lastSeenAt: 0 }],
      },
    ],
    pairCodes: [
      { code: 'APPLE-BANANA-AAAAA', sessionId: LIVE_ID, createdAt: now, expiresAt: now + HOUR },
      {
        code: 'CHERRY-DATE-BBBBB',
        sessionId: LIVE_ID,
        createdAt: now - HOUR,
        expiresAt: now + HOUR,
        claimedAt: now - 1000,
      },
      { code: 'EXPIRED-CODE-CCCCC', sessionId: LIVE_ID, createdAt: 0, expiresAt: now - 1 },
      { code: 'GONE-SESSION-DDDDD', sessionId: EXPIRED_ID, createdAt: now, expiresAt: now + HOUR },
    ],
  };
}

async function start(dataDir: string): Promise<RelayProcess> {
  const relay = await RelayProcess.start(['--data-dir', dataDir]);
  cleanup(() => relay.stop('SIGKILL'));
  return relay;
}

function expectNoSecrets(log: string): void {
  for (const secret of [LIVE_ID, EXPIRED_ID, ALICE_KEY, BOB_KEY, 'APPLE-BANANA']) {
    expect(log).not.toContain(secret);
  }
}

describe('sessions.json from an older relay', () => {
  it('is imported into a new SQLite store once: sessions, keys, cursors and codes carry on', async () => {
    const dataDir = tempDir('nexus-relay-upgrade-');
    const legacyPath = join(dataDir, 'sessions.json');
    writeFileSync(legacyPath, JSON.stringify(legacyFile(Date.now())), { mode: 0o600 });

    let relay = await start(dataDir);
    expect(relay.stderr()).toMatch(
      /imported 1 session and 2 pairing codes \(1 expired left out\) from \S+sessions\.json \(renamed to \S+sessions\.json\.imported-[\dT-]+Z\)/,
    );
    expectNoSecrets(relay.stderr());
    expect(existsSync(legacyPath)).toBe(false);
    expect(readdirSync(dataDir).filter((name) => name.startsWith('sessions.json'))).toEqual([
      expect.stringMatching(/^sessions\.json\.imported-/),
    ]);

    const status = await relay.call('GET', `/v1/sessions/${LIVE_ID}`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({
      agents: ['alice', 'bob'],
      creatorAgentId: 'alice',
      maxAgents: 5,
      ttl: 3600,
    });
    expect((await relay.call('GET', `/v1/sessions/${EXPIRED_ID}`)).status).toBe(404);

    // The old key still signs: checked against the imported one, a wrong key is refused.
    const wrongKey = await relay.call('POST', `/v1/sessions/${LIVE_ID}/messages`, {
      agentId: 'alice',
      sessionKey: BOB_KEY,
      json: { text: 'not me' },
    });
    expect(wrongKey.status).toBe(403);
    const sent = await relay.call('POST', `/v1/sessions/${LIVE_ID}/messages`, {
      agentId: 'alice',
      sessionKey: ALICE_KEY,
      json: { text: 'after the upgrade' },
    });
    expect(sent.status).toBe(201);
    expect(Number(sent.body.cursor)).toBe(LAST_CURSOR + 1);
    const polled = await relay.call(
      'GET',
      `/v1/sessions/${LIVE_ID}/messages?after=${LAST_CURSOR}`,
      {
        agentId: 'bob',
      },
    );
    expect(polled.body.messages).toEqual([
      expect.objectContaining({ agentId: 'alice', text: 'after the upgrade', verified: true }),
    ]);

    const claimed = await relay.call('POST', '/v1/pair/apple-banana-aaaaa/claim', {
      agentId: 'carol',
    });
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject({
      sessionId: LIVE_ID,
      status: 'claimed',
      greeting: 'welcome back',
    });
    const usedBefore = await relay.call('POST', '/v1/pair/CHERRY-DATE-BBBBB/claim', {
      agentId: 'dave',
    });
    expect(usedBefore.body.error).toBe('code_expired_or_used');
    for (const code of ['EXPIRED-CODE-CCCCC', 'GONE-SESSION-DDDDD']) {
      const left = await relay.call('GET', `/v1/pair/${code}/status`);
      expect(left.body.error).toBe('code_not_found');
    }

    // A restart reads the store only: nothing imported twice, the cursor keeps climbing.
    await relay.stop('SIGTERM');
    relay = await start(dataDir);
    expect(relay.stderr()).not.toMatch(/sessions\.json/);
    const after = await relay.call('POST', `/v1/sessions/${LIVE_ID}/messages`, {
      agentId: 'bob',
      sessionKey: BOB_KEY,
      json: { text: 'still here' },
    });
    expect(Number(after.body.cursor)).toBe(LAST_CURSOR + 2);
    expect((await relay.call('GET', `/v1/sessions/${LIVE_ID}`)).body.agents).toEqual([
      'alice',
      'bob',
      'carol',
    ]);
  }, 30_000);

  it.each([
    ['not JSON', '{"version": 1, "sessions": [', /not valid JSON/],
    ['another version', JSON.stringify({ version: 2, sessions: [] }), /not a version 1/],
    [
      'a session listed twice',
      JSON.stringify({
        version: 1,
        sessions: [legacyFile(0).sessions[0], legacyFile(0).sessions[0]],
      }),
      /twice/,
    ],
  ])(
    'that is %s is left untouched and the relay runs',
    async (_case, content, reason) => {
      const dataDir = tempDir('nexus-relay-upgrade-');
      const legacyPath = join(dataDir, 'sessions.json');
      writeFileSync(legacyPath, content, { mode: 0o600 });

      const relay = await start(dataDir);
      const lines = relay.stderr().split('\n');
      const ignored = lines.filter((line) => line.includes('sessions.json'));
      expect(ignored).toHaveLength(1);
      expect(ignored[0]).toMatch(reason);
      expect(ignored[0]).toMatch(/left untouched/);
      expectNoSecrets(relay.stderr());
      expect(readFileSync(legacyPath, 'utf8')).toBe(content);
      expect((await relay.call('GET', '/health')).status).toBe(200);
      const created = await relay.call('PUT', '/v1/sessions', {
        json: { creatorAgentId: 'alice' },
      });
      expect(created.status).toBe(201);
    },
    30_000,
  );

  it('is not imported into a store that already holds sessions', async () => {
    const dataDir = tempDir('nexus-relay-upgrade-');
    let relay = await start(dataDir);
    const created = await relay.call('PUT', '/v1/sessions', { json: { creatorAgentId: 'zoe' } });
    await relay.stop('SIGTERM');
    const legacyPath = join(dataDir, 'sessions.json');
    const content = JSON.stringify(legacyFile(Date.now()));
    writeFileSync(legacyPath, content, { mode: 0o600 });

    relay = await start(dataDir);
    expect(relay.stderr()).toMatch(/not importing \S+sessions\.json .*already holds sessions/);
    expect(readFileSync(legacyPath, 'utf8')).toBe(content);
    expect((await relay.call('GET', `/v1/sessions/${LIVE_ID}`)).status).toBe(404);
    const own = await relay.call('GET', `/v1/sessions/${created.body.sessionId as string}`);
    expect(own.body.agents).toEqual(['zoe']);
  }, 30_000);
});

describe('importSessionsJson', () => {
  it('imports all or nothing: a clash midway leaves the store empty and the file in place', async () => {
    const dataDir = tempDir('nexus-relay-upgrade-');
    const now = Date.now();
    const storage = await SqliteStorage.open({
      path: join(dataDir, 'relay.db'),
      maxMessagesPerSession: 100,
      log: () => {},
    });
    cleanup(() => storage.close());
    // A code left behind by a session that is gone: the store holds no session, yet the clash.
    await storage.putPairCode({
      code: 'CHERRY-DATE-BBBBB',
      sessionId: 'f6'.repeat(24),
      createdAt: now,
      expiresAt: now + HOUR,
    });
    const legacyPath = join(dataDir, 'sessions.json');
    const content = JSON.stringify(legacyFile(now));
    writeFileSync(legacyPath, content, { mode: 0o600 });
    const lines: string[] = [];

    importSessionsJson(storage, dataDir, now, (line) => lines.push(line));

    expect(lines).toEqual([
      expect.stringMatching(
        /could not import .*\(UNIQUE constraint failed: pair_codes\.code\).*left untouched/,
      ),
    ]);
    expectNoSecrets(lines.join('\n'));
    expect(storage.holdsSessions()).toBe(false);
    expect(await storage.getPairCode('APPLE-BANANA-AAAAA')).toBeUndefined();
    expect(readFileSync(legacyPath, 'utf8')).toBe(content);
  });
});
