/** A clock tests move by hand: time passes only when the test says so. */
export class FakeClock {
  constructor(private current = Date.parse('2026-11-25T12:00:00.000Z')) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
