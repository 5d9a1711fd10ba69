import { describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../src/relay/storage.js';
import { iso, messageJson, wireMessage } from '../../src/relay/wire.js';

describe('iso', () => {
  it('formats exactly as Date#toISOString, edges included', () => {
    const times = [0, 1, 9, 10, 99, 100, 999, 1000, -1, -999, -1000, -1001, 1_764_412_800_123];
    times.push(8.64e15, -8.64e15, 253_402_300_799_999, 253_402_300_800_000, 1.5, -2.5);
    for (let i = 0; i < 2_000; i++) times.push(Math.floor((i - 500) * 7_919_113_337.77));
    for (const ms of times) expect(iso(ms), String(ms)).toBe(new Date(ms).toISOString());
  });

  it("throws RangeError outside Date's range, as Date#toISOString does", () => {
    for (const ms of [8.64e15 + 1, -8.64e15 - 1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => iso(ms)).toThrow(RangeError);
    }
  });
});

describe('messageJson', () => {
  it('writes what JSON.stringify of the wire message writes, json spliced in', () => {
    const base: StoredMessage = {
      id: 'msg_0123456789abcdef01234567',
      agentId: 'bob-2_x',
      text: 'plain',
      cursor: 1,
      verified: true,
      createdAt: 1_764_412_800_123,
      expiresAt: 1_764_416_400_123,
    };
    const texts = [
      '',
      'say "hi"\\ \n\t\u0000\u001f',
      'é ✓ 😀 \ud800 lone',
      '</script>',
      'x'.repeat(5000),
    ];
    for (const text of texts) {
      for (const extra of [
        {},
        { verified: false, cursor: 9_007_199_254_740_991 },
        { createdAt: 0 },
      ]) {
        const message = { ...base, text, ...extra };
        expect(messageJson(message)).toBe(JSON.stringify(wireMessage(message)));
        const json = { a: [1, { b: text }], c: null };
        const withJson = { ...message, jsonText: JSON.stringify(json) };
        expect(JSON.parse(messageJson(withJson))).toEqual({ ...wireMessage(message), json });
      }
    }
  });
});
