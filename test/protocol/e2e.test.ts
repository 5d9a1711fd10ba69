import { hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  acceptSeq,
  base32Decode,
  base32Encode,
  checkReplay,
  E2eError,
  E2eKey,
  type E2eKind,
  guardMessage,
  MAX_E2E_PLAINTEXT_BYTES,
  MAX_GUARD_NOTES,
  newReplayGuard,
  openEnvelope,
  pad,
  parseE2eFragment,
  prepareSeal,
  type ReplayGuard,
  type ReplayState,
  receiveMessage,
  sealEnvelope,
  splitE2eLink,
  unpad,
  withE2eFragment,
} from '../../src/protocol/e2e/index.js';

const SESSION = 'a'.repeat(48);
const key = E2eKey.fromSecret(Buffer.alloc(32, 7));
const seal = (overrides: Partial<Parameters<typeof sealEnvelope>[0]> = {}) =>
  sealEnvelope({
    key,
    sessionId: SESSION,
    senderAgentId: 'alice',
    kind: 'message',
    seq: 1,
    payload: { text: 'hello' },
    ...overrides,
  });
const open = (text: string, overrides: Partial<Parameters<typeof openEnvelope>[0]> = {}) =>
  openEnvelope({ text, sessionId: SESSION, senderAgentId: 'alice', key, ...overrides });

/** Rebuilds an envelope with one byte of its binary form changed. */
function withByte(envelope: string, index: number, change: (byte: number) => number): string {
  const raw = Buffer.from(base32Decode(envelope.slice(5)) ?? []);
  raw[index] = change(raw[index] ?? 0) & 0xff;
  return `nxe1.${base32Encode(raw)}`;
}

describe('key schedule', () => {
  it('derives with HKDF-SHA256 exactly as node:crypto does', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        (secret, salt) => {
          const key = E2eKey.fromSecret(secret);
          const root = Buffer.from(hkdfSync('sha256', secret, 'nexus-e2e/1', 'root', 32));
          expect(key.rootKey().equals(root)).toBe(true);
          expect(key.keyId().equals(Buffer.from(hkdfSync('sha256', root, '', 'key-id', 4)))).toBe(
            true,
          );
          const okm = Buffer.from(hkdfSync('sha256', root, salt, 'nexus-e2e/1 msg', 64));
          const { encKey, commit } = key.messageKeys(salt);
          expect(Buffer.concat([encKey, commit]).equals(okm)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('base32', () => {
  it('matches RFC 4648 test vectors in lowercase without padding', () => {
    const cases: [string, string][] = [
      ['', ''],
      ['f', 'my'],
      ['fo', 'mzxq'],
      ['foo', 'mzxw6'],
      ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'],
      ['foobar', 'mzxw6ytboi'],
    ];
    for (const [plain, encoded] of cases) {
      expect(base32Encode(Buffer.from(plain))).toBe(encoded);
      expect(Buffer.from(base32Decode(encoded) ?? []).toString()).toBe(plain);
    }
  });

  it('round-trips any bytes, and the encoding uses only a-z and 2-7', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const text = base32Encode(bytes);
        expect(text).toMatch(/^[a-z2-7]*$/);
        const decoded = base32Decode(text);
        expect(decoded && Uint8Array.from(decoded)).toEqual(bytes);
      }),
    );
  });

  it('decodes from an offset as it decodes the rest of the string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 80 }), (prefix, rest) => {
        expect(base32Decode(prefix + rest, prefix.length)).toEqual(base32Decode(rest));
      }),
    );
  });

  it('is canonical: a string that decodes re-encodes to itself', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567'), maxLength: 80 }),
        (text) => {
          const bytes = base32Decode(text);
          fc.pre(bytes !== null);
          expect(base32Encode(bytes ?? new Uint8Array())).toBe(text);
        },
      ),
    );
  });

  it('has exactly one spelling per byte string: changing the last character never decodes to the same bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567'),
        (bytes, char) => {
          const text = base32Encode(bytes);
          const changed = text.slice(0, -1) + char;
          fc.pre(changed !== text);
          const decoded = base32Decode(changed);
          if (decoded) expect(Buffer.from(decoded).equals(Buffer.from(bytes))).toBe(false);
        },
      ),
    );
  });

  it('rejects capitals, padding, other characters, impossible lengths and non-zero spare bits', () => {
    for (const bad of ['MZXW6', 'mzxw6===', 'mzxw1', 'mzx-6', 'a', 'abc', 'abcdef', 'mz', 'mzxr']) {
      expect(base32Decode(bad), bad).toBeNull();
    }
  });
});

describe('padding', () => {
  it('pads to a multiple of 256 with 0x80 then zeros, and unpads back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        const padded = pad(bytes);
        expect(padded.length % 256).toBe(0);
        expect(padded.length - bytes.length).toBeGreaterThanOrEqual(1);
        expect(padded.length - bytes.length).toBeLessThanOrEqual(256);
        expect(padded[bytes.length]).toBe(0x80);
        expect(unpad(padded)).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it('rejects padding that pad() would not write', () => {
    expect(unpad(Buffer.alloc(256))).toBeNull();
    expect(unpad(Buffer.alloc(255, 0x80))).toBeNull();
    const trailing = pad(Buffer.from('x'));
    trailing[255] = 1;
    expect(unpad(trailing)).toBeNull();
    // A 0x80 more than a block before the end means a whole block of padding too many.
    const long = Buffer.alloc(512);
    long[0] = 0x80;
    expect(unpad(long)).toBeNull();
  });
});

describe('envelopes', () => {
  const kinds: E2eKind[] = ['message', 'greeting', 'hello'];
  const payload = fc.record(
    { text: fc.string({ maxLength: 300 }), json: fc.jsonValue({ maxDepth: 3 }) },
    { requiredKeys: [] },
  );

  it('open to what was sealed, for any payload, kind, seq and ids', () => {
    fc.assert(
      fc.property(
        payload,
        fc.constantFrom(...kinds),
        fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
        fc.stringMatching(/^[A-Za-z0-9_-]{16,128}$/),
        (body, kind, seq, sender, sessionId) => {
          // JSON drops -0 and undefined members; compare against what JSON can carry.
          const sent = JSON.parse(JSON.stringify(body)) as typeof body;
          if (kind !== 'hello' && sent.text === undefined && sent.json === undefined) return;
          const text = sealEnvelope({
            key,
            sessionId,
            senderAgentId: sender,
            kind,
            seq,
            payload: sent,
          });
          expect(text).toMatch(/^nxe1\.[a-z2-7]+$/);
          expect(openEnvelope({ text, sessionId, senderAgentId: sender, key })).toEqual({
            ok: true,
            kind,
            seq,
            payload: sent,
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never repeat: every envelope has a fresh salt', () => {
    expect(seal()).not.toBe(seal());
  });

  it('seal with keys prepared ahead once each: a prepared salt is never used twice', () => {
    const salts = new Set<string>();
    for (let i = 0; i < 6; i++) {
      // Prepared twice over before some seals, never before others.
      if (i % 3 !== 2) prepareSeal(key);
      if (i % 3 === 0) prepareSeal(key);
      const envelope = seal({ seq: i + 1, payload: { text: `message ${i}` } });
      expect(open(envelope)).toEqual({
        ok: true,
        kind: 'message',
        seq: i + 1,
        payload: { text: `message ${i}` },
      });
      const raw = Buffer.from(base32Decode(envelope.slice(5)) ?? []);
      salts.add(raw.subarray(14, 30).toString('hex'));
    }
    expect(salts.size).toBe(6);
  });

  it('are malformed without the prefix, with broken base32 or a wrong length', () => {
    const good = seal();
    expect(open('hello')).toEqual({ ok: false, error: 'malformed' });
    expect(open(good.slice(5))).toEqual({ ok: false, error: 'malformed' });
    expect(open(good.toUpperCase())).toEqual({ ok: false, error: 'malformed' });
    expect(open(`${good}=`)).toEqual({ ok: false, error: 'malformed' });
    expect(open('nxe1.')).toEqual({ ok: false, error: 'malformed' });
    const raw = Buffer.from(base32Decode(good.slice(5)) ?? []);
    expect(open(`nxe1.${base32Encode(raw.subarray(0, raw.length - 1))}`)).toEqual({
      ok: false,
      error: 'malformed',
    });
    expect(
      open(
        `nxe1.${base32Encode(Buffer.concat([raw, Buffer.alloc(256)]).subarray(0, raw.length + 200))}`,
      ),
    ).toEqual({
      ok: false,
      error: 'malformed',
    });
  });

  it('are malformed with a seq of 0 or past the largest safe integer', () => {
    const good = seal();
    // Header bytes 6-13: the seq as a u64; its high word may be at most 2^21 - 1.
    for (const [high, low] of [
      [0, 0],
      [2 ** 21, 0],
      [0xffffffff, 0xffffffff],
    ] as const) {
      const raw = Buffer.from(base32Decode(good.slice(5)) ?? []);
      raw.writeUInt32BE(high, 6);
      raw.writeUInt32BE(low, 10);
      expect(open(`nxe1.${base32Encode(raw)}`)).toEqual({ ok: false, error: 'malformed' });
    }
    const largest = seal({ seq: Number.MAX_SAFE_INTEGER });
    expect(open(largest)).toMatchObject({ ok: true, seq: Number.MAX_SAFE_INTEGER });
  });

  it('check version, then key presence and key id, then commitment, then the AAD', () => {
    const good = seal();
    expect(open(withByte(good, 0, () => 2))).toEqual({ ok: false, error: 'unsupported_version' });
    // A version-2 envelope is unsupported even when it would be malformed as v1.
    expect(open(`nxe1.${base32Encode(Buffer.from([2, 1, 2]))}`)).toEqual({
      ok: false,
      error: 'unsupported_version',
    });
    expect(open(withByte(good, 1, () => 9))).toEqual({ ok: false, error: 'malformed' });
    expect(open(good, { key: undefined })).toEqual({ ok: false, error: 'no_key' });
    expect(open(good, { key: E2eKey.generate() })).toEqual({ ok: false, error: 'wrong_key' });
    expect(open(withByte(good, 3, (b) => b ^ 1))).toEqual({ ok: false, error: 'wrong_key' });
    expect(open(withByte(good, 20, (b) => b ^ 1))).toEqual({ ok: false, error: 'tampered' }); // salt
    expect(open(withByte(good, 40, (b) => b ^ 1))).toEqual({ ok: false, error: 'tampered' }); // commit
    expect(open(withByte(good, 100, (b) => b ^ 1))).toEqual({ ok: false, error: 'tampered' }); // C
    expect(open(withByte(good, 10, (b) => b ^ 1))).toEqual({ ok: false, error: 'tampered' }); // seq
    expect(open(withByte(good, 1, () => 2))).toEqual({ ok: false, error: 'tampered' }); // kind
    expect(open(good, { senderAgentId: 'mallory' })).toEqual({ ok: false, error: 'tampered' });
    expect(open(good, { sessionId: 'b'.repeat(48) })).toEqual({ ok: false, error: 'tampered' });
  });

  it('never open with any single character of the envelope changed', () => {
    const good = seal({ payload: { text: 'secret plan', json: { at: 5 } } });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: good.length - 1 }),
        fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz234567.A='),
        (index, char) => {
          if (good[index] === char) return;
          const flipped = good.slice(0, index) + char + good.slice(index + 1);
          const result = open(flipped);
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throw and never open for random input, with or without a valid layout', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 700 }), (text) => {
        expect(open(`nxe1.${text}`).ok).toBe(false);
      }),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 334, maxLength: 334 + 512 }),
        fc.constantFrom(1, 2, 3),
        (bytes, kind) => {
          const raw = Buffer.from(bytes);
          raw[0] = 1;
          raw[1] = kind;
          key.keyId().copy(raw, 2);
          const result = open(`nxe1.${base32Encode(raw)}`);
          expect(result.ok).toBe(false);
          expect(['malformed', 'tampered']).toContain((result as { error: string }).error);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuse a plaintext over 16 KiB and accept one at the limit, keeping the body under 32 KiB', () => {
    const overhead = JSON.stringify({ text: '' }).length;
    const atLimit = seal({ payload: { text: 'x'.repeat(MAX_E2E_PLAINTEXT_BYTES - overhead) } });
    expect(JSON.stringify({ text: atLimit }).length).toBeLessThan(32 * 1024);
    expect(() =>
      seal({ payload: { text: 'x'.repeat(MAX_E2E_PLAINTEXT_BYTES - overhead + 1) } }),
    ).toThrow(expect.objectContaining({ code: 'plaintext_too_large' }));
  });

  it('refuse an empty message and a bad seq, and allow an empty hello', () => {
    expect(() => seal({ payload: {} })).toThrow(E2eError);
    expect(() => seal({ seq: 0 })).toThrow(RangeError);
    expect(() => seal({ seq: 1.5 })).toThrow(RangeError);
    expect(open(seal({ kind: 'hello', payload: {} }))).toEqual({
      ok: true,
      kind: 'hello',
      seq: 1,
      payload: {},
    });
  });
});

describe('replay windows', () => {
  it('accept increasing seqs and report gaps, including before the first message seen', () => {
    let state: ReplayState = {};
    const verdicts = [1, 2, 5, 6, 10].map((seq) => {
      const result = checkReplay(state, 'alice', seq);
      state = result.state;
      return result.verdict;
    });
    expect(verdicts).toEqual([
      { replayed: false },
      { replayed: false },
      { replayed: false, gapBefore: 2 },
      { replayed: false },
      { replayed: false, gapBefore: 3 },
    ]);
    expect(checkReplay({}, 'bob', 4).verdict).toEqual({ replayed: false, gapBefore: 3 });
  });

  it('flag a seen seq and one older than the window, and fill late holes once', () => {
    let window = acceptSeq(undefined, 1).window;
    window = acceptSeq(window, 3).window;
    expect(acceptSeq(window, 3).verdict).toEqual({ replayed: true });
    const late = acceptSeq(window, 2);
    expect(late.verdict).toEqual({ replayed: false });
    expect(acceptSeq(late.window, 2).verdict).toEqual({ replayed: true });
    window = acceptSeq(late.window, 3 + 1024).window;
    expect(acceptSeq(window, 4).verdict).toEqual({ replayed: false }); // 1024 back: still in the window
    expect(acceptSeq(window, 3).verdict).toEqual({ replayed: true }); // 1025 back: too old to tell
  });

  it('remember every seq seen across jumps of any size, and no seq skipped', () => {
    let window = acceptSeq(undefined, 1).window;
    const seen = [1];
    for (const jump of [1, 7, 8, 9, 17, 63, 100, 3, 255]) {
      const seq = (seen.at(-1) ?? 0) + jump;
      window = acceptSeq(window, seq).window;
      seen.push(seq);
    }
    const highest = seen.at(-1) ?? 0;
    for (let seq = 1; seq <= highest; seq++) {
      expect(acceptSeq(window, seq).verdict, `seq ${seq}`).toEqual(
        seen.includes(seq) ? { replayed: true } : { replayed: false },
      );
    }
  });

  it('keep senders apart, survive JSON and treat __proto__ as an ordinary agent id', () => {
    let state: ReplayState = {};
    state = checkReplay(state, '__proto__', 1).state;
    state = checkReplay(state, 'alice', 1).state;
    const stored = JSON.parse(JSON.stringify(state)) as ReplayState;
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype);
    expect(checkReplay(stored, '__proto__', 1).verdict).toEqual({ replayed: true });
    expect(checkReplay(stored, 'alice', 1).verdict).toEqual({ replayed: true });
    expect(checkReplay(stored, 'bob', 1).verdict).toEqual({ replayed: false });
  });

  it('match a reference set of seen seqs for any delivery order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { maxLength: 200 }), (seqs) => {
        let window: ReturnType<typeof acceptSeq>['window'] | undefined;
        const seen = new Set<number>();
        let highest = 0;
        for (const seq of seqs) {
          const result = acceptSeq(window, seq);
          const expected = seen.has(seq) || (highest > 0 && seq <= highest - 1024);
          expect(result.verdict.replayed).toBe(expected);
          if (!expected) {
            seen.add(seq);
            highest = Math.max(highest, seq);
          }
          window = result.window;
        }
      }),
    );
  });
});

describe('receiveMessage', () => {
  const receive = (
    text: string,
    cursor: string,
    guard: ReplayGuard = newReplayGuard(),
    extra: { json?: unknown; key?: E2eKey } = {},
  ) =>
    receiveMessage({
      body: { text, ...(extra.json !== undefined && { json: extra.json }) },
      cursor,
      sessionId: SESSION,
      senderAgentId: 'alice',
      key: 'key' in extra ? extra.key : key,
      guard,
    });

  it('passes plaintext through as unencrypted', () => {
    expect(receive('just text', '1').received).toEqual({ encrypted: false });
  });

  it('decrypts, and flags the same envelope served again at a new cursor as replayed', () => {
    const envelope = seal({ seq: 3, payload: { text: 'hi', json: { n: 1 } } });
    const first = receive(envelope, '5');
    expect(first.received).toEqual({
      encrypted: true,
      decrypted: true,
      kind: 'message',
      seq: 3,
      payload: { text: 'hi', json: { n: 1 } },
      gapBefore: 2,
    });
    const again = receive(envelope, '9', first.guard);
    expect(again.received).toMatchObject({ encrypted: true, decrypted: false, error: 'replayed' });
    // Re-reading both (a poll with after, the transcript) gives the same verdicts, unchanged.
    expect(receive(envelope, '5', again.guard).received).toMatchObject({
      decrypted: true,
      gapBefore: 2,
    });
    expect(receive(envelope, '9', again.guard)).toMatchObject({
      received: { error: 'replayed' },
      guard: again.guard,
    });
  });

  it('gives a placeholder without the envelope, and leaves the guard alone on failure', () => {
    const envelope = seal();
    const guard = newReplayGuard();
    const result = receive(envelope, '1', guard, { key: undefined });
    expect(result.received).toMatchObject({ decrypted: false, error: 'no_key' });
    const placeholder = (result.received as { placeholder: string }).placeholder;
    expect(placeholder).toMatch(/full link/);
    expect(placeholder).not.toMatch(/[a-z2-7]{20}/);
    expect(result.guard).toBe(guard);
    expect(receive(envelope, '1', guard, { json: { x: 1 } }).received).toMatchObject({
      error: 'malformed',
    });
    // Once the key is attached, the same message opens.
    expect(receive(envelope, '1', result.guard).received).toMatchObject({ decrypted: true });
  });
});

describe('guardMessage', () => {
  it('judges each cursor once and answers re-reads from what it noted', () => {
    let guard = newReplayGuard();
    const judge = (cursor: string, sender: string, seq: number) => {
      const result = guardMessage(guard, { cursor, sender, seq });
      guard = result.guard;
      return result.verdict;
    };
    expect(judge('1', 'alice', 1)).toEqual({ replayed: false });
    expect(judge('2', 'bob', 1)).toEqual({ replayed: false });
    expect(judge('3', 'alice', 4)).toEqual({ replayed: false, gapBefore: 2 });
    expect(judge('4', 'alice', 1)).toEqual({ replayed: true });
    expect(judge('5', 'alice', 2)).toEqual({ replayed: false }); // late, fills the gap
    const before = guard;
    expect([judge('1', 'alice', 1), judge('3', 'alice', 4), judge('4', 'alice', 1)]).toEqual([
      { replayed: false },
      { replayed: false, gapBefore: 2 },
      { replayed: true },
    ]);
    expect(guard).toBe(before);
    expect(guard.through).toBe('5');
  });

  it('keeps a bounded number of notes', () => {
    let guard = newReplayGuard();
    for (let i = 1; i <= MAX_GUARD_NOTES + 10; i++) {
      guard = guardMessage(guard, { cursor: String(i), sender: 'a', seq: 2 * i }).guard;
    }
    expect(guard.notes).toHaveLength(MAX_GUARD_NOTES);
    expect(guard.notes[0]?.[0]).toBe('11');
  });
});

describe('link fragment', () => {
  it('round-trips the key through a link and leaves the relay part without it', () => {
    const link = withE2eFragment('https://relay.example/p/PEARL-FOCAL-S5SJV', key);
    expect(link).toMatch(/#e2e=1\.[A-Za-z0-9_-]{43}$/);
    const split = splitE2eLink(link);
    expect(split.link).toBe('https://relay.example/p/PEARL-FOCAL-S5SJV');
    expect(split.key?.secret()).toEqual(key.secret());
    expect(splitE2eLink(`  <${link}>  `).key?.keyId()).toEqual(key.keyId());
    expect(splitE2eLink(`PEARL-FOCAL-S5SJV#${link.split('#')[1]}`)).toMatchObject({
      link: 'PEARL-FOCAL-S5SJV',
    });
    expect(splitE2eLink('https://relay.example/p/X-Y#other=1')).toEqual({
      link: 'https://relay.example/p/X-Y',
    });
    expect(splitE2eLink(`${link}).`).key?.secret()).toEqual(key.secret());
    expect(parseE2eFragment(link.split('#')[1]?.replace('=', '%3D') ?? '')?.secret()).toEqual(
      key.secret(),
    );
  });

  it('rejects a damaged or unknown-version key with a clear error that holds no key', () => {
    const fragment = withE2eFragment('x', key).split('#')[1] ?? '';
    const encoded = fragment.slice('e2e=1.'.length);
    const bad: [string, string][] = [
      [`e2e=1.${encoded.slice(1)}`, 'invalid_e2e_link'],
      [`e2e=1.${encoded}A`, 'invalid_e2e_link'],
      [`e2e=1.${encoded.slice(0, 42)}B`, 'invalid_e2e_link'], // non-zero spare bits
      [`e2e=1.${encoded.slice(0, 42)}+`, 'invalid_e2e_link'],
      [`${fragment}&${fragment}`, 'invalid_e2e_link'],
      [`e2e=2.${encoded}`, 'unsupported_e2e_version'],
      ['e2e=', 'unsupported_e2e_version'],
      ['e2e=1.%zz', 'invalid_e2e_link'],
    ];
    for (const [input, code] of bad) {
      let error: unknown;
      try {
        parseE2eFragment(input);
      } catch (caught) {
        error = caught;
      }
      expect(error, input).toBeInstanceOf(E2eError);
      expect((error as E2eError).code, input).toBe(code);
      expect((error as E2eError).message).not.toContain(encoded.slice(0, 10));
    }
  });

  it('keeps key material out of logs and JSON', async () => {
    const { inspect } = await import('node:util');
    expect(JSON.stringify({ key })).toBe('{"key":"[E2eKey]"}');
    expect(inspect({ key })).not.toContain(key.secret().toString('hex').slice(0, 8));
  });
});
