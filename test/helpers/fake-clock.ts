/** The instant fake clocks start at, unless told otherwise. */
export const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** A clock tests move by hand: time passes only when the test says so. */
export class FakeClock {
  constructor(public time = T0) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
  advanceSeconds(seconds: number): void {
    this.time += seconds * 1000;
  }
}
