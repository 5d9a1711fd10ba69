import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/core.js';

const run = promisify(execFile);

describe('file locks across many directories', () => {
  it('leave no pid file behind and no listener warning, however many directories were locked', async () => {
    const root = tempDir();
    const dirs = Array.from({ length: 30 }, (_, index) => join(root, `session-${index}`));
    for (const dir of dirs) mkdirSync(dir);
    const lock = new URL('../../dist/core/file-lock.js', import.meta.url).href;
    const script = `
      const { readdirSync } = await import('node:fs');
      const { withFileLock } = await import(${JSON.stringify(lock)});
      const dirs = ${JSON.stringify(dirs)};
      for (const dir of dirs) withFileLock(dir + '/x.lock', 'test', () => undefined);
      const held = dirs.filter((dir) => readdirSync(dir).some((name) => name.startsWith('.owner-')));
      process.stdout.write(String(held.length));
    `;
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script]);
    // While it ran, every directory held this process's pid file (the locks link to it) ...
    expect(stdout).toBe(String(dirs.length));
    // ... and at exit every one was removed, with one listener, so Node printed no warning.
    for (const dir of dirs)
      expect(readdirSync(dir).filter((name) => name.startsWith('.owner-'))).toEqual([]);
    expect(stderr).not.toContain('MaxListenersExceededWarning');
  });
});
