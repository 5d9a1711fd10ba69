import { describe, expect, it } from 'vitest';
import { iso } from '../../src/relay/wire.js';

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
