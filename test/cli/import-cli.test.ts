/**
 * Import that lands right: the shell client's config.json serverUrl binds sessions that name no
 * relay (and becomes the saved default when the store has none), the creator role is kept, every
 * session is reported with what happened and why, and a missing directory is an error (exit 2).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { importShellClientSessions } from '../../src/commands/index.js';
import { failure, makeCore, tempDir } from '../helpers/core.js';
import { CLI } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';

const run = promisify(execFile);

function shellDir(sessions: Record<string, Record<string, string>>, config?: unknown): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'sessions'), { recursive: true });
  for (const [id, files] of Object.entries(sessions)) {
    mkdirSync(join(dir, 'sessions', id), { recursive: true });
    for (const [name, text] of Object.entries(files))
      writeFileSync(join(dir, 'sessions', id, name), `${text}\n`);
  }
  if (config !== undefined) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

describe('import-cli', async () => {
  const relay = await useRelay();

  it("binds sessions without a server file to config.json's serverUrl and keeps the creator role", async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const mine = await alice.manager.create();
    const theirs = await alice.manager.create();
    const bob = makeCore(relay.url, { agentId: 'bob' });
    await bob.manager.join({ sessionId: theirs.session.sessionId });
    const key = (core: typeof alice, id: string) => core.store.get(id)?.sessionKey ?? '';
    const dir = shellDir(
      {
        [mine.session.sessionId]: { agent: 'alice', key: key(alice, mine.session.sessionId) },
        [theirs.session.sessionId]: {
          agent: 'bob',
          key: key(bob, theirs.session.sessionId),
          cursor: 'garbage',
        },
        ['a'.repeat(48)]: { key: 'k' },
        'not-an-id': { agent: 'x', key: 'y' },
      },
      { serverUrl: `${relay.url}/`, agentId: 'ignored' },
    );
    // The target's own default points nowhere: only config.json can bind these sessions right.
    const target = makeCore('http://127.0.0.1:9');
    target.manager.registry.setSavedServer(undefined);
    const report = await importShellClientSessions(target.manager, dir);
    expect(report.config).toEqual({
      serverUrl: relay.url,
      savedAsDefault: true,
      ignored: ['agentId'],
    });
    expect(report.imported).toHaveLength(2);
    const byId = new Map(report.imported.map((entry) => [entry.sessionId, entry]));
    expect(byId.get(mine.session.sessionId)).toMatchObject({
      server: relay.url,
      serverFrom: 'config.json',
      agentId: 'alice',
      role: 'creator',
    });
    expect(byId.get(theirs.session.sessionId)).toMatchObject({
      agentId: 'bob',
      role: 'member',
      cursor: '0',
      notes: ['the cursor file held no cursor: reading starts from the beginning'],
    });
    expect(report.skipped).toEqual([
      { sessionId: 'a'.repeat(48), reason: 'no agent file: without it the session cannot be used' },
      { sessionId: 'not-an-id', reason: 'not a session id' },
    ]);
    // Bound right: the imported creator membership works on the configured relay.
    expect(target.manager.info(mine.session.sessionId).role).toBe('creator');
    expect((await target.manager.send(mine.session.sessionId, { text: 'hi' })).verified).toBe(true);
    // NEXUS_URL is set for this core, so the saved default is not what it uses, but it is saved.
    expect(target.manager.registry.savedServer()).toBe(relay.url);
  });

  it('keeps a saved default relay and a role file over what the relay says', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create();
    const dir = shellDir(
      {
        [created.session.sessionId]: {
          agent: 'alice',
          key: alice.store.get(created.session.sessionId)?.sessionKey ?? '',
          role: 'member',
          server: relay.url,
        },
      },
      { serverUrl: 'http://127.0.0.1:1' },
    );
    const target = makeCore(relay.url);
    target.manager.registry.setSavedServer('http://127.0.0.1:2');
    const report = await importShellClientSessions(target.manager, dir);
    expect(report.config.savedAsDefault).toBeUndefined();
    expect(report.imported[0]).toMatchObject({ serverFrom: 'server file', role: 'member' });
    expect(target.manager.registry.savedServer()).toBe('http://127.0.0.1:2');
  });

  it('refuses a directory that is missing or holds no sessions', async () => {
    const target = makeCore(relay.url);
    const missing = await failure(importShellClientSessions(target.manager, '/nonexistent/dir'));
    expect(missing.code).toBe('invalid_argument');
    expect(missing.message).toContain('No shell client directory at /nonexistent/dir');
    const empty = await failure(importShellClientSessions(target.manager, tempDir()));
    expect(empty.message).toContain('holds no sessions/ directory');
  });

  it('exits 2 with the reason when --from names no directory', async () => {
    const outcome = await run(process.execPath, [CLI, 'import-cli', '--from', '/nonexistent'], {
      env: { ...process.env, NEXUS_MCP_HOME: tempDir() },
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    expect('code' in outcome && outcome.code).toBe(2);
    expect(outcome.stdout).toBe('');
    expect(outcome.stderr).toContain('No shell client directory at /nonexistent');
  });
});
