import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { importShellClientSessions, runDoctor } from '../../src/commands/index.js';
import { NexusError } from '../../src/core/index.js';
import { makeCore, storedSession, tempDir } from '../helpers/core.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { closedPort } from '../helpers/faulty-server.js';
import { useRelay } from '../helpers/relay.js';
import { useTextOnlyProxy } from '../helpers/text-only-proxy.js';

async function failure(promise: Promise<unknown> | (() => unknown)): Promise<NexusError> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (error) {
    expect(error).toBeInstanceOf(NexusError);
    return error as NexusError;
  }
  throw new Error('expected a failure');
}

describe('session manager', async () => {
  const relay = await useRelay();

  it('creates a session as creator, with a pairing code, and stores it bound to its relay', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create({
      greeting: 'Welcome!',
      alias: 'standup',
      pair: true,
      ttl: 600,
    });
    expect(created.session).toMatchObject({
      alias: 'standup',
      agentId: 'alice',
      role: 'creator',
      cursor: '0',
      server: relay.url,
    });
    expect(created.ttl).toBe(600);
    expect(created.pairing?.code).toMatch(/^[A-Z]+-[A-Z]+-[A-Z2-7]{5}$/);
    expect(created.pairing?.url).toBe(`${relay.url}/p/${created.pairing?.code}`);
    expect(created.session).not.toHaveProperty('sessionKey');
    const stored = alice.store.get(created.session.sessionId);
    expect(stored?.sessionKey).toMatch(/.{32,}/);
  });

  it('generates and keeps one readable agent id per install', () => {
    const core = makeCore(relay.url);
    const id = core.manager.defaultAgentId();
    expect(id).toMatch(/^agent-[0-9a-z]{6}$/);
    expect(core.manager.defaultAgentId()).toBe(id);
    expect(core.store.read().defaultAgentId).toBe(id);
  });

  it('claims by bare code in any case and by link, starting at cursor 0 with the greeting', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create({ greeting: 'Hello from alice', pair: true });
    const bob = makeCore(relay.url, { agentId: 'bob' });
    const claimed = await bob.manager.claim({
      code: (created.pairing?.code ?? '').toLowerCase(),
      alias: 'with-alice',
    });
    expect(claimed.session).toMatchObject({
      sessionId: created.session.sessionId,
      cursor: '0',
      role: 'member',
      alias: 'with-alice',
    });
    expect(claimed.greeting).toEqual({ from: 'alice', text: 'Hello from alice' });
    expect(claimed.members?.sort()).toEqual(['alice', 'bob']);

    const second = await alice.manager.pair(created.session.sessionId);
    // The link alone names the relay: carol's default server points elsewhere.
    const carol = makeCore('http://127.0.0.1:9', { agentId: 'carol' });
    const byLink = await carol.manager.claim({ code: second.url });
    expect(byLink.session.server).toBe(relay.url);
    expect(byLink.session.sessionId).toBe(created.session.sessionId);
    expect((await carol.manager.pairStatus(second.url)).state).toBe('claimed');
  });

  it('answers pairing errors with their protocol codes', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create({ pair: true });
    const code = created.pairing?.code ?? '';
    await makeCore(relay.url, { agentId: 'bob' }).manager.claim({ code });
    expect(
      (await failure(makeCore(relay.url, { agentId: 'eve' }).manager.claim({ code }))).code,
    ).toBe('code_expired_or_used');
    expect((await failure(alice.manager.pairStatus('NOPE-NOPE-AAAAA'))).code).toBe(
      'code_not_found',
    );
    expect((await failure(alice.manager.claim({ code: 'not a code!' }))).code).toBe(
      'invalid_pairing_input',
    );
  });

  it('joins by full id, and says so when already joined', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create({ greeting: 'hi' });
    const bob = makeCore(relay.url, { agentId: 'bob' });
    const joined = await bob.manager.join({ sessionId: created.session.sessionId });
    expect(joined).toMatchObject({ alreadyJoined: false, greeting: { from: 'alice', text: 'hi' } });
    const again = await bob.manager.join({ sessionId: created.session.sessionId, alias: 'later' });
    expect(again.alreadyJoined).toBe(true);
    expect(again.session.alias).toBe('later');
    expect((await failure(bob.manager.join({ sessionId: 'short' }))).code).toBe('invalid_argument');
  });

  it('keeps one membership per session in a store, and says when a join or claim replaced one', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create({ pair: true });
    const home = tempDir();
    const bob = makeCore(relay.url, { agentId: 'bob', home });
    await bob.manager.claim({ code: created.pairing?.code ?? '' });
    const bobToo = makeCore(relay.url, { agentId: 'bob-two', home });
    // The full id names the stored session: joining it as another id replaces the membership.
    const joined = await bobToo.manager.join({
      sessionId: created.session.sessionId,
      agentId: 'bob-two',
    });
    expect(joined).toMatchObject({ alreadyJoined: false, replaced: 'bob' });
    expect((await alice.manager.status(created.session.sessionId)).members).toEqual([
      'alice',
      'bob-two',
    ]);
    const again = await alice.manager.pair(created.session.sessionId);
    const claimed = await bobToo.manager.claim({ code: again.code, agentId: 'bob-three' });
    expect(claimed.replaced).toBe('bob-two');
    expect(bobToo.store.get(created.session.sessionId)?.agentId).toBe('bob-three');
    expect(
      bobToo.lines.some(
        (line) => line.level === 'warning' && line.message.includes('held as bob-two'),
      ),
    ).toBe(true);
  });

  it('sends verified messages and polls with cursor discipline', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const { session } = await alice.manager.create({ greeting: 'G' });
    const bob = makeCore(relay.url, { agentId: 'bob' });
    await bob.manager.join({ sessionId: session.sessionId, alias: 'a' });

    const sent = await bob.manager.send('a', { text: 'one' });
    expect(sent).toMatchObject({ verified: true, cursor: '1', format: 'text', redacted: 0 });
    // Bob was caught up, so his own message does not come back to him.
    expect(bob.manager.info('a').cursor).toBe('1');
    await alice.manager.send(session.sessionId, { text: 'two' });
    await bob.manager.send('a', { text: 'three' });
    expect(bob.manager.info('a').cursor).toBe('1');

    const first = await bob.manager.poll('a');
    expect(first.messages.map((m) => [m.from, m.text, m.own, m.verified])).toEqual([
      ['alice', 'two', false, true],
      ['bob', 'three', true, true],
    ]);
    expect(first.cursor).toBe('3');
    expect((await bob.manager.poll('a')).messages).toEqual([]);

    // An explicit `after` replays without rewinding; "0" brings the greeting too.
    const replay = await bob.manager.poll('a', { after: '0' });
    expect(replay.replay).toBe(true);
    expect(replay.messages.map((m) => m.text)).toEqual(['G', 'one', 'two', 'three']);
    expect(replay.messages[0]).toMatchObject({
      greeting: true,
      from: 'alice',
      verified: false,
      own: false,
    });
    expect((await bob.manager.poll('a', { after: '2' })).messages.map((m) => m.text)).toEqual([
      'three',
    ]);
    expect(bob.manager.info('a').cursor).toBe('3');
  });

  it('limits a poll by count and by size, committing only what it hands over', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const { session } = await alice.manager.create();
    const bob = makeCore(relay.url, { agentId: 'bob' });
    await bob.manager.join({ sessionId: session.sessionId });
    for (let i = 1; i <= 5; i++)
      await alice.manager.send(session.sessionId, { text: `m${i}`.padEnd(100, '.') });
    const counted = await bob.manager.poll(session.sessionId, { limit: 2 });
    expect(counted.messages.map((m) => m.cursor)).toEqual(['1', '2']);
    expect(counted.hasMore).toBe(true);
    const sized = await bob.manager.poll(session.sessionId, { budgetChars: 150 });
    expect(sized.messages.map((m) => m.cursor)).toEqual(['3']);
    expect(sized.hasMore).toBe(true);
    const tiny = await bob.manager.poll(session.sessionId, { budgetChars: 10 });
    expect(tiny.messages.map((m) => m.cursor)).toEqual(['4']);
    const rest = await bob.manager.poll(session.sessionId);
    expect(rest.messages.map((m) => m.cursor)).toEqual(['5']);
    expect(rest.hasMore).toBe(false);
  });

  it('sends JSON natively where /health lists it, folds or refuses it elsewhere', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const { session } = await alice.manager.create();
    const native = await alice.manager.send(session.sessionId, { text: 'data', json: { n: 1 } });
    expect(native.format).toBe('json');
    const replay = await alice.manager.poll(session.sessionId, { after: '0' });
    expect(replay.messages.at(-1)).toMatchObject({ text: 'data', json: { n: 1 } });

    const proxy = await useTextOnlyProxy(relay.url);
    const viaProxy = makeCore(proxy.url, { agentId: 'alice' });
    const { session: old } = await viaProxy.manager.create();
    expect(
      (await failure(viaProxy.manager.send(old.sessionId, { json: { n: 2 }, strict: true }))).code,
    ).toBe('json_not_supported');
    const folded = await viaProxy.manager.send(old.sessionId, { text: 'see', json: { n: 2 } });
    expect(folded.format).toBe('folded');
    const seen = await viaProxy.manager.poll(old.sessionId, { after: '0' });
    expect(seen.messages.at(-1)?.text).toBe('see\n\n```json\n{\n  "n": 2\n}\n```');
  });

  it('falls back to reading the greeting at cursor 0 where join does not return it', async () => {
    const proxy = await useTextOnlyProxy(relay.url);
    const alice = makeCore(proxy.url, { agentId: 'alice' });
    const created = await alice.manager.create({ greeting: 'from the old relay', pair: true });
    const bob = makeCore(proxy.url, { agentId: 'bob' });
    const claimed = await bob.manager.claim({ code: created.pairing?.code ?? '' });
    expect(claimed.greeting).toEqual({ from: 'alice', text: 'from the old relay' });
  });

  it('leaves, refuses the creator clearly, and is idempotent on sessions already gone', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const { session } = await alice.manager.create({ alias: 'room' });
    const bob = makeCore(relay.url, { agentId: 'bob' });
    await bob.manager.join({ sessionId: session.sessionId, alias: 'room' });
    const creatorLeave = await failure(alice.manager.leave('room'));
    expect(creatorLeave.code).toBe('creator_cannot_leave');
    expect(alice.store.get(session.sessionId)).toBeDefined();

    expect((await bob.manager.leave('room')).outcome).toBe('removed');
    expect(bob.store.get(session.sessionId)).toBeUndefined();

    // Rejoin, then break the key locally: the relay says invalid key, the status says we are gone.
    const carol = makeCore(relay.url, { agentId: 'carol' });
    await carol.manager.join({ sessionId: session.sessionId });
    await makeCore(relay.url).client.leave({
      server: relay.url,
      sessionId: session.sessionId,
      agentId: 'carol',
      sessionKey: carol.store.get(session.sessionId)?.sessionKey ?? '',
    });
    carol.store.update((data) => {
      const stored = data.sessions[session.sessionId];
      if (stored) stored.sessionKey = 'wrong';
    });
    expect((await carol.manager.leave(session.sessionId)).outcome).toBe('already_gone');
    expect(carol.store.get(session.sessionId)).toBeUndefined();
  });

  it('keeps local state when the key is wrong but the agent is still a member, and when the relay is down', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const { session } = await alice.manager.create();
    const dave = makeCore(relay.url, { agentId: 'dave' });
    await dave.manager.join({ sessionId: session.sessionId });
    dave.store.update((data) => {
      const stored = data.sessions[session.sessionId];
      if (stored) stored.sessionKey = 'wrong';
    });
    expect((await failure(dave.manager.leave(session.sessionId))).code).toBe('invalid_session_key');
    expect(dave.store.get(session.sessionId)).toBeDefined();

    const port = await closedPort();
    dave.store.update((data) => {
      const stored = data.sessions[session.sessionId];
      if (stored) stored.server = `http://127.0.0.1:${port}`;
    });
    expect((await failure(dave.manager.leave(session.sessionId))).code).toBe('network_error');
    expect(dave.store.get(session.sessionId)).toBeDefined();
  });

  it('keeps each session on the relay it was acquired on', async () => {
    const other = await useRelay();
    const home = tempDir();
    const first = makeCore(relay.url, { agentId: 'alice', home });
    const { session: onFirst } = await first.manager.create({ alias: 'one' });
    // Same store, NEXUS_URL now points at another relay.
    const second = makeCore(other.url, { agentId: 'alice', home });
    const { session: onSecond } = await second.manager.create({ alias: 'two' });
    expect(onSecond.server).toBe(other.url);
    await second.manager.send('one', { text: 'still on the first relay' });
    const bob = makeCore(relay.url, { agentId: 'bob' });
    await bob.manager.join({ sessionId: onFirst.sessionId });
    expect((await bob.manager.poll(onFirst.sessionId)).messages.map((m) => m.text)).toEqual([
      'still on the first relay',
    ]);
    const statuses = await second.manager.list();
    expect(statuses.map((entry) => [entry.session.alias, entry.live, entry.member])).toEqual(
      expect.arrayContaining([
        ['one', 'active', true],
        ['two', 'active', true],
      ]),
    );
  });

  it('resolves references by full id, alias and unique prefix, and lists candidates otherwise', async () => {
    const core = makeCore(relay.url, { agentId: 'alice' });
    const now = new Date().toISOString();
    const base = {
      server: relay.url,
      agentId: 'alice',
      sessionKey: 'k',
      cursor: '0',
      role: 'member' as const,
      createdAt: now,
      lastUsedAt: now,
    };
    core.store.put({ ...base, sessionId: `abcdef01${'1'.repeat(40)}`, alias: 'first' });
    core.store.put({ ...base, sessionId: `abcdef01${'2'.repeat(40)}` });
    core.store.put({ ...base, sessionId: `99999999${'3'.repeat(40)}` });
    expect(core.manager.resolve('first').sessionId).toBe(`abcdef01${'1'.repeat(40)}`);
    expect(core.manager.resolve('abcdef012').sessionId).toBe(`abcdef01${'2'.repeat(40)}`);
    expect(core.manager.resolve(`99999999${'3'.repeat(40)}`).alias).toBeUndefined();
    const ambiguous = await failure(() => core.manager.resolve('abcdef01'));
    expect(ambiguous.code).toBe('ambiguous_session');
    expect(ambiguous.message).toContain('first (abcdef011111)');
    expect(ambiguous.message).toContain('abcdef012222');
    const unknown = await failure(() => core.manager.resolve('nothing'));
    expect(unknown.code).toBe('unknown_session');
    expect(unknown.message).toContain('first (abcdef011111)');
    expect((await failure(() => core.manager.resolve('abcd'))).message).toContain('at least 8');
    expect((await failure(() => core.manager.setAlias('first', 'deadbeef99'))).code).toBe(
      'invalid_argument',
    );
    expect((await failure(() => core.manager.setAlias('99999999', 'first'))).code).toBe(
      'alias_taken',
    );
    expect(core.manager.setAlias('first', '').alias).toBeUndefined();
  });

  it('renews, reports status, and polls every session at once', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const one = await alice.manager.create({ alias: 'p1' });
    const two = await alice.manager.create({ alias: 'p2' });
    const renewed = await alice.manager.renew('p1', 7200);
    expect(renewed.ttl).toBe(7200);
    const status = await alice.manager.status('p1');
    expect(status).toMatchObject({
      state: 'active',
      joined: true,
      members: ['alice'],
      ttl: 7200,
      creatorAgentId: 'alice',
    });
    const bob = makeCore(relay.url, { agentId: 'bob' });
    await bob.manager.join({ sessionId: one.session.sessionId });
    await bob.manager.join({ sessionId: two.session.sessionId });
    await bob.manager.send(one.session.sessionId, { text: 'to p1' });
    await bob.manager.send(two.session.sessionId, { text: 'to p2' });
    const update = vi.spyOn(alice.store, 'update');
    const all = await alice.manager.pollAll();
    // Cursors move in their own small records: the store file is not rewritten at all.
    expect(update).toHaveBeenCalledTimes(0);
    update.mockRestore();
    expect(all.errors).toEqual([]);
    expect(
      all.results.flatMap((result) => result.messages.map((m) => `${m.session}:${m.text}`)).sort(),
    ).toEqual(['p1:to p1', 'p2:to p2']);
    expect((await alice.manager.pollAll()).results.flatMap((result) => result.messages)).toEqual(
      [],
    );
  });

  it('imports the shell client sessions it lacks and reports the rest', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create();
    const key = alice.store.get(created.session.sessionId)?.sessionKey ?? '';
    const dir = tempDir();
    const write = (id: string, files: Record<string, string>) => {
      mkdirSync(join(dir, 'sessions', id), { recursive: true });
      for (const [name, text] of Object.entries(files))
        writeFileSync(join(dir, 'sessions', id, name), `${text}\n`);
    };
    write(created.session.sessionId, { agent: 'alice', key, cursor: '0', server: `${relay.url}/` });
    write('f'.repeat(48), { agent: 'bob' });
    writeFileSync(
      join(dir, 'aliases.json'),
      JSON.stringify({ imported: created.session.sessionId }),
    );
    const target = makeCore('http://127.0.0.1:9');
    const report = await importShellClientSessions(target.manager, dir);
    expect(report.imported).toEqual([
      {
        sessionId: created.session.sessionId,
        alias: 'imported',
        server: relay.url,
        serverFrom: 'server file',
        agentId: 'alice',
        // The shell client keeps no role: the relay says alice created it.
        role: 'creator',
        cursor: '0',
      },
    ]);
    expect(report.skipped).toEqual([
      {
        sessionId: 'f'.repeat(48),
        reason: 'no key file: without it the session cannot be used',
      },
    ]);
    // The imported key works: the send is verified and lands on the session's own relay.
    expect((await target.manager.send('imported', { text: 'via import' })).verified).toBe(true);
    expect((await importShellClientSessions(target.manager, dir)).skipped).toContainEqual({
      sessionId: created.session.sessionId,
      reason: 'already in the store (never overwritten)',
    });
  });

  it('marks sessions the relay forgot as expired, lists them so, and prunes them a day later', async () => {
    const clock = new FakeClock();
    const relayClock = new FakeClock();
    const mortal = await useRelay({ clock: relayClock });
    const alice = makeCore(mortal.url, { agentId: 'alice', clock });
    const { session } = await alice.manager.create({ ttl: 60, alias: 'brief' });
    relayClock.advance(61_000);
    const error = await failure(alice.manager.send('brief', { text: 'too late' }));
    expect(error.code).toBe('session_not_found');
    expect(alice.manager.info('brief').expired).toBe(true);
    expect(alice.lines.filter((line) => line.message.includes('expired'))).toHaveLength(1);
    expect((await alice.manager.list()).map((entry) => [entry.session.alias, entry.live])).toEqual([
      ['brief', 'not_found'],
    ]);
    clock.advance(24 * 60 * 60_000 + 1);
    expect(await alice.manager.list()).toEqual([]);
    expect(alice.store.get(session.sessionId)).toBeUndefined();
  });

  it('lists an unreachable relay as unreachable without failing the others', async () => {
    const port = await closedPort();
    const core = makeCore(relay.url, { agentId: 'alice' });
    await core.manager.create({ alias: 'alive' });
    core.store.put(
      storedSession({
        sessionId: 'e'.repeat(48),
        server: `http://127.0.0.1:${port}`,
        agentId: 'alice',
        alias: 'gone',
      }),
    );
    const entries = await core.manager.list();
    expect(Object.fromEntries(entries.map((entry) => [entry.session.alias, entry.live]))).toEqual({
      alive: 'active',
      gone: 'unreachable',
    });
  });

  it('doctor reports relays, sessions and store modes', async () => {
    const core = makeCore(relay.url, { agentId: 'alice' });
    await core.manager.create({ alias: 'checked' });
    const report = await runDoctor(core.manager);
    expect(report.ok).toBe(true);
    expect(report.store).toMatchObject({ dirMode: '0700', fileMode: '0600', ok: true });
    expect(report.servers).toEqual([
      {
        url: relay.url,
        reachable: true,
        version: expect.any(String),
        messageFormat: ['text', 'json'],
        longPoll: true,
      },
    ]);
    expect(report.sessions).toEqual([
      expect.objectContaining({ alias: 'checked', relay: 'active', member: true }),
    ]);

    const broken = makeCore(`http://127.0.0.1:${await closedPort()}`);
    const bad = await runDoctor(broken.manager);
    expect(bad.ok).toBe(false);
    expect(bad.problems.join(' ')).toContain('not reachable');
  });

  it('doctor names files in the store that other users can read', async () => {
    const core = makeCore(relay.url, { agentId: 'alice' });
    await core.manager.create({ alias: 'checked' });
    // Our own send steps the read position past it: that writes the session's record in cursors/.
    await core.manager.send('checked', { text: 'hello' });
    const cursors = join(core.store.dir, 'cursors');
    const [record] = readdirSync(cursors);
    expect(record).toBeDefined();
    expect((await runDoctor(core.manager)).store.ok).toBe(true);

    chmodSync(cursors, 0o755);
    chmodSync(join(cursors, record as string), 0o644);
    const report = await runDoctor(core.manager);
    expect(report.ok).toBe(false);
    expect(report.store).toMatchObject({
      dirMode: '0700',
      fileMode: '0600',
      ok: false,
      loose: [
        { path: 'cursors', mode: '0755' },
        { path: join('cursors', record as string), mode: '0644' },
      ],
    });
    expect(report.problems.join(' ')).toContain(
      `open to other users (cursors 0755, ${join('cursors', record as string)} 0644): run chmod -R go-rwx ${core.store.dir}`,
    );
  });

  it('never writes a session key into a log line or an error message', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const { session } = await alice.manager.create({ alias: 'secretive' });
    const key = alice.store.get(session.sessionId)?.sessionKey ?? '';
    const errors = [
      await failure(alice.manager.leave('secretive')),
      await failure(alice.manager.send('secretive', {})),
      await failure(alice.manager.poll('secretive', { after: 'x' })),
    ];
    const text = JSON.stringify([
      alice.lines,
      errors.map((error) => [error.message, error.hint, error.toJSON()]),
    ]);
    expect(key.length).toBeGreaterThan(20);
    expect(text).not.toContain(key);
    expect(text).not.toContain(session.sessionId);
  });
});
