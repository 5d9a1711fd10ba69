import { afterAll, onTestFinished } from 'vitest';

/** Runs `fn` after the current test, or after the suite when called while collecting it. */
export function cleanup(fn: () => unknown): void {
  try {
    onTestFinished(async () => {
      await fn();
    });
  } catch {
    afterAll(async () => {
      await fn();
    });
  }
}
