import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createLogger, type LogLevel, silentLogger } from '../../src/core/logger.js';
import { SessionStore } from '../../src/core/store.js';
import { tempDir } from '../helpers/core.js';
import { storedSession } from '../helpers/stored-session.js';

const run = promisify(execFile);

const session = storedSession;

describe('session store', () => {
  it('keeps its directory at 0700 and its file at 0600', () => {
    const dir = join(tempDir(), 'nested', 'home');
    const store = new SessionStore({ dir, logger: silentLogger });
    store.put(session('s'.repeat(48)));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(store.fileModes()).toEqual({ dir: 0o700, file: 0o600 });
    // A cursor move takes the fast write path: still 0600.
    store.advanceCursor('s'.repeat(48), '5');
    expect(statSync(store.file).mode & 0o777).toBe(0o600);
    expect(store.get('s'.repeat(48))?.cursor).toBe('5');
  });

  it('never moves a cursor backwards', () => {
    const store = new SessionStore({ dir: tempDir(), logger: silentLogger });
    store.put(session('c'.repeat(48)));
    expect(store.advanceCursor('c'.repeat(48), '10')).toBe('10');
    expect(store.advanceCursor('c'.repeat(48), '9')).toBe('10');
    expect(store.advanceCursor('c'.repeat(48), '100')).toBe('100');
    expect(store.get('c'.repeat(48))?.cursor).toBe('100');
  });

  it('moves several cursors in one write, forward only, skipping sessions it lacks', () => {
    const store = new SessionStore({ dir: tempDir(), logger: silentLogger });
    store.put(session('e'.repeat(48), { cursor: '5' }));
    store.put(session('f'.repeat(48), { cursor: '7' }));
    const moved = store.advanceCursors(
      new Map([
        ['e'.repeat(48), '9'],
        ['f'.repeat(48), '3'],
        ['0'.repeat(48), '1'],
      ]),
    );
    expect([...moved.keys()]).toEqual(['e'.repeat(48), 'f'.repeat(48)]);
    expect(moved.get('e'.repeat(48))?.cursor).toBe('9');
    expect(store.get('e'.repeat(48))?.cursor).toBe('9');
    expect(store.get('f'.repeat(48))?.cursor).toBe('7');
  });

  it('refuses an alias another session holds', () => {
    const store = new SessionStore({ dir: tempDir(), logger: silentLogger });
    store.put(session('a'.repeat(48), { alias: 'team' }));
    store.put(session('b'.repeat(48)));
    expect(() => store.setAlias('b'.repeat(48), 'team')).toThrow(/already names/);
    store.setAlias('a'.repeat(48), undefined);
    expect(store.setAlias('b'.repeat(48), 'team').alias).toBe('team');
  });

  it('moves a corrupt file aside, says so once with its path, and starts fresh', () => {
    const dir = tempDir();
    const first = new SessionStore({ dir, logger: silentLogger });
    first.put(session('d'.repeat(48)));
    writeFileSync(first.file, '{ this is not json');
    const lines: { level: LogLevel; message: string }[] = [];
    const store = new SessionStore({
      dir,
      logger: createLogger((level, message) => lines.push({ level, message })),
    });
    expect(store.all()).toEqual([]);
    store.put(session('e'.repeat(48)));
    expect(store.all()).toHaveLength(1);
    const aside = readdirSync(dir).filter((name) => name.startsWith('store.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0] as string), 'utf8')).toBe('{ this is not json');
    expect(lines.filter((line) => line.level === 'warning')).toHaveLength(1);
    expect(lines[0]?.message).toContain(join(dir, aside[0] as string));
  });

  it('treats a file whose frame fails the schema as corrupt too', () => {
    const dir = tempDir();
    const first = new SessionStore({ dir, logger: silentLogger });
    writeFileSync(first.file, JSON.stringify({ version: 'one', sessions: [] }));
    const store = new SessionStore({ dir, logger: silentLogger });
    expect(store.all()).toEqual([]);
    expect(readdirSync(dir).some((name) => name.startsWith('store.json.corrupt-'))).toBe(true);
  });

  it('loses no write and no cursor when several processes hammer one store', async () => {
    expect(existsSync('dist/core/index.js'), 'run `npm run build` first (npm test does)').toBe(
      true,
    );
    const dir = tempDir();
    const store = new SessionStore({ dir, logger: silentLogger });
    store.put(session('shared-session-000'));
    const workers = 5;
    const rounds = 40;
    const outputs = await Promise.all(
      Array.from({ length: workers }, (_, worker) =>
        run(process.execPath, [
          'test/fixtures/store-hammer.mjs',
          dir,
          String(worker),
          String(rounds),
        ]),
      ),
    );
    const reports = outputs.map(({ stdout }) => JSON.parse(stdout) as { regressions: number });
    expect(reports.map((report) => report.regressions)).toEqual(Array(workers).fill(0));
    const all = store.all();
    expect(all).toHaveLength(workers * rounds + 1);
    expect(store.get('shared-session-000')?.cursor).toBe(String((rounds - 1) * 10 + (workers - 1)));
    expect(existsSync(join(dir, 'store.lock'))).toBe(false);
  });
});
