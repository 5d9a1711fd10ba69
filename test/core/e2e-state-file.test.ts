import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { E2eStateFiles } from '../../src/core/e2e-state-file.js';
import { tempDir } from '../helpers/core.js';

const SESSION = 'ab'.repeat(24);

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
    files.takeSeq(SESSION, 'alice', 0);
    const path = join(dir, 'e2e', `${SESSION}.alice.seq`);
    const record = JSON.parse(readFileSync(path, 'utf8')) as { s: number; r: number; b: string };
    expect(record.r).toBeGreaterThan(record.s);
    // As a power cut may leave it: an older seq, written in an earlier boot.
    writeFileSync(path, JSON.stringify({ s: 0, r: record.r, b: 'id:an-earlier-boot' }));
    expect(files.takeSeq(SESSION, 'alice', 0)).toBe(record.r + 1);
  });

  it('keeps the guard, and reads a torn one as none', () => {
    const dir = tempDir();
    const files = new E2eStateFiles(dir);
    expect(files.guard(SESSION)).toBeUndefined();
    const guard = { through: '7', senders: [], notes: [] };
    files.updateGuard(SESSION, () => ({ next: guard, result: undefined }));
    expect(new E2eStateFiles(dir).guard(SESSION)).toEqual(guard);
    writeFileSync(join(dir, 'e2e', `${SESSION}.guard`), '{"through":"7","sen');
    expect(new E2eStateFiles(dir).guard(SESSION)).toBeUndefined();
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
    expect(new E2eStateFiles(dir).guard(SESSION)).toEqual(short);
    expect(files.guard(SESSION)).toEqual(short);
  });
});
