import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { E2eStateFiles } from '../../src/core/e2e-state-file.js';
import { tempDir } from '../helpers/core.js';

const SESSION = 'ab'.repeat(24);
/** The session's part of its file names: a hash, never the id. */
const NAME = createHash('sha256').update(SESSION).digest('hex').slice(0, 32);
const run = promisify(execFile);

/** The stored guard, read as every reader does: through updateGuard, changing nothing. */
function guardOf(files: E2eStateFiles) {
  return files.updateGuard(SESSION, (current) => ({ result: current }));
}

/** A numbering file's content: the reservation and the boot it was written in. */
function reservation(path: string): { r: number; b: string } {
  return JSON.parse(readFileSync(path, 'utf8')) as { r: number; b: string };
}

describe('the encryption state beside the store', () => {
  it('takes seqs in order, from the floor, per agent', () => {
    const dir = tempDir();
    const files = new E2eStateFiles(dir);
    expect([1, 2, 3].map(() => files.takeSeq(SESSION, 'alice', 0))).toEqual([1, 2, 3]);
    expect(files.takeSeq(SESSION, 'bob', 0)).toBe(1);
    expect(files.takeSeq(SESSION, 'carol', 41)).toBe(42);
    expect(files.seq(SESSION, 'alice')).toBe(3);
    // Another process on the same store sees the same numbering.
    expect(new E2eStateFiles(dir).takeSeq(SESSION, 'alice', 0)).toBe(4);
  });

  it('resumes past the reserved block after a reboot, so no seq is used twice', () => {
    const dir = tempDir();
    const files = new E2eStateFiles(dir);
    for (let i = 0; i < 3; i++) files.takeSeq(SESSION, 'alice', 0);
    const numbering = join(dir, 'e2e', `${NAME}.alice.seqs`);
    expect(readdirSync(numbering)).toEqual(['3']);
    const { r, b } = reservation(join(numbering, '3'));
    expect(r).toBeGreaterThanOrEqual(3);
    expect(b).not.toBe('');
    // As a power cut may leave it: the renames since the synced reservation undone, in an
    // earlier boot. The next process numbers past the whole reserved block.
    renameSync(join(numbering, '3'), join(numbering, '1'));
    writeFileSync(join(numbering, '1'), JSON.stringify({ r, b: 'id:an-earlier-boot' }));
    expect(new E2eStateFiles(dir).takeSeq(SESSION, 'alice', 0)).toBe(r + 1);
  });

  it('renews the reservation before a seq past it is used', () => {
    const dir = tempDir();
    const files = new E2eStateFiles(dir);
    const numbering = join(dir, 'e2e', `${NAME}.alice.seqs`);
    for (let seq = 1; seq <= 150; seq++) {
      expect(files.takeSeq(SESSION, 'alice', 0)).toBe(seq);
      expect(reservation(join(numbering, String(seq))).r).toBeGreaterThanOrEqual(seq);
    }
    expect(readdirSync(numbering)).toEqual(['150']);
  });

  it('never hands one seq to two processes taking them in turn', () => {
    const dir = tempDir();
    const first = new E2eStateFiles(dir);
    const second = new E2eStateFiles(dir);
    const taken: number[] = [];
    // Each one's next rename finds the file moved by the other, and looks again.
    for (let i = 0; i < 40; i++) {
      taken.push((i % 3 === 0 ? second : first).takeSeq(SESSION, 'alice', 0));
    }
    expect(taken).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(first.seq(SESSION, 'alice')).toBe(40);
  });

  it('numbers again from what it knows when the numbering file was removed by hand', () => {
    const dir = tempDir();
    const files = new E2eStateFiles(dir);
    for (let i = 0; i < 5; i++) files.takeSeq(SESSION, 'alice', 0);
    const numbering = join(dir, 'e2e', `${NAME}.alice.seqs`);
    rmSync(join(numbering, '5'));
    // This process remembers 5; another one only has the store's floor.
    expect(files.takeSeq(SESSION, 'alice', 0)).toBe(6);
    rmSync(join(numbering, '6'));
    expect(new E2eStateFiles(dir).takeSeq(SESSION, 'alice', 9)).toBe(10);
    expect(readdirSync(numbering)).toEqual(['10']);
  });

  it('continues from the single-file record of earlier versions', () => {
    const dir = tempDir();
    const files = new E2eStateFiles(dir);
    files.takeSeq(SESSION, 'carol', 0);
    const { b: boot } = reservation(join(dir, 'e2e', `${NAME}.carol.seqs`, '1'));
    const legacy = join(dir, 'e2e', `${SESSION}.alice.seq`);
    const earlier = join(dir, 'e2e', `${SESSION}.bob.seq`);
    writeFileSync(legacy, JSON.stringify({ s: 10, r: 74, b: boot }));
    writeFileSync(earlier, JSON.stringify({ s: 10, r: 74, b: 'id:an-earlier-boot' }));
    expect(files.takeSeq(SESSION, 'alice', 0)).toBe(11);
    expect(files.takeSeq(SESSION, 'bob', 0)).toBe(75);
  });

  it('never hands one seq to two processes sending at once', async () => {
    expect(existsSync('dist/core/e2e-state-file.js'), 'run `npm run build` first').toBe(true);
    const dir = tempDir();
    const count = 300;
    const outputs = await Promise.all(
      [0, 1, 2].map(() =>
        run(process.execPath, ['test/fixtures/seq-hammer.mjs', dir, SESSION, String(count)]),
      ),
    );
    const lists = outputs.map(({ stdout }) => JSON.parse(stdout) as number[]);
    for (const list of lists) {
      expect(list).toHaveLength(count);
      // Each process's own seqs rise: its envelopes are numbered in the order it seals them.
      expect(list).toEqual([...list].sort((a, b) => a - b));
    }
    const all = lists.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 3 * count }, (_, i) => i + 1));
  });

  it('keeps the guard, and reads a torn one as none', () => {
    const dir = tempDir();
    const files = new E2eStateFiles(dir);
    expect(guardOf(files)).toBeUndefined();
    const guard = { through: '7', senders: [], notes: [] };
    files.updateGuard(SESSION, () => ({ next: guard, result: undefined }));
    expect(guardOf(new E2eStateFiles(dir))).toEqual(guard);
    writeFileSync(join(dir, 'e2e', `${NAME}.guard`), '{"through":"7","sen');
    expect(guardOf(new E2eStateFiles(dir))).toBeUndefined();
  });
});

describe('file names', () => {
  it('never hold the session id, and what earlier versions named by it is still honoured', () => {
    const dir = tempDir();
    const earlier = new E2eStateFiles(dir);
    // Make the directory, then plant what a version naming files by the session id left.
    earlier.takeSeq(SESSION, 'carol', 0);
    const { b: boot } = reservation(join(dir, 'e2e', `${NAME}.carol.seqs`, '1'));
    const numbering = join(dir, 'e2e', `${SESSION}.alice.seqs`);
    mkdirSync(numbering);
    writeFileSync(join(numbering, '40'), JSON.stringify({ r: 100, b: boot }));
    const guard = { through: '9', senders: [], notes: [] };
    writeFileSync(join(dir, 'e2e', `${SESSION}.guard`), JSON.stringify(guard));

    const files = new E2eStateFiles(dir);
    expect(files.seq(SESSION, 'alice')).toBe(40);
    expect(files.takeSeq(SESSION, 'alice', 0)).toBe(41);
    expect(guardOf(files)).toEqual(guard);
    // The first write starts from the old guard and goes to the hashed name only.
    const seen = files.updateGuard(SESSION, (current) => ({
      next: { ...guard, through: '10' },
      result: current,
    }));
    expect(seen).toEqual(guard);
    expect(guardOf(new E2eStateFiles(dir))).toEqual({ ...guard, through: '10' });
    expect(JSON.parse(readFileSync(join(dir, 'e2e', `${SESSION}.guard`), 'utf8'))).toEqual(guard);

    const written = readdirSync(join(dir, 'e2e')).filter((name) => !name.startsWith(`${SESSION}.`));
    expect(written.length).toBeGreaterThan(0);
    expect(written.join(' ')).not.toContain(SESSION);
  });

  it('after a reboot, skip past what an earlier layout had reserved', () => {
    const dir = tempDir();
    new E2eStateFiles(dir).takeSeq(SESSION, 'carol', 0);
    const numbering = join(dir, 'e2e', `${SESSION}.alice.seqs`);
    mkdirSync(numbering);
    writeFileSync(join(numbering, '40'), JSON.stringify({ r: 100, b: 'id:an-earlier-boot' }));
    expect(new E2eStateFiles(dir).takeSeq(SESSION, 'alice', 0)).toBe(101);
  });
});

describe('a guard that shrinks', () => {
  it('is padded in place and reads back as written', () => {
    const dir = tempDir();
    const files = new E2eStateFiles(dir);
    const long = { through: '123456789', senders: [], notes: [] };
    const short = { through: '5', senders: [], notes: [] };
    files.updateGuard(SESSION, () => ({ next: long, result: undefined }));
    files.updateGuard(SESSION, () => ({ next: short, result: undefined }));
    expect(guardOf(new E2eStateFiles(dir))).toEqual(short);
    expect(guardOf(files)).toEqual(short);
  });
});
