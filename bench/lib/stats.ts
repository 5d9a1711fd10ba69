/**
 * Latency samples kept in an HDR histogram (hdr-histogram-js), recorded in microseconds so
 * sub-millisecond loopback round trips keep three significant digits; read back in ms.
 */
import { build, type Histogram } from 'hdr-histogram-js';

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  mean: number;
  min: number;
  max: number;
  /** Unit of p50/p99/mean/min/max. */
  unit: 'ms';
}

export class Samples {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });

  /** Records one duration in milliseconds (fractions kept down to 1 µs). */
  record(ms: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  summary(): Summary {
    const h = this.histogram;
    const ms = (us: number): number => Math.round(us) / 1000;
    return {
      count: h.totalCount,
      p50: h.totalCount ? ms(h.getValueAtPercentile(50)) : Number.NaN,
      p99: h.totalCount ? ms(h.getValueAtPercentile(99)) : Number.NaN,
      mean: h.totalCount ? ms(h.mean) : Number.NaN,
      min: h.totalCount ? ms(h.minNonZeroValue) : Number.NaN,
      max: h.totalCount ? ms(h.maxValue) : Number.NaN,
      unit: 'ms',
    };
  }

  destroy(): void {
    this.histogram.destroy();
  }
}

/** Times one async call in milliseconds with the monotonic clock. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}
