import { afterEach, expect, it, vi } from 'vitest';
import { storeUnavailable } from '../../src/relay/open-storage.js';
import { CommandDeadlines } from '../../src/relay/redis-deadlines.js';

afterEach(() => {
  vi.useRealTimers();
});

it('fails a command unanswered past the timeout as the store not answering in time, and no other', async () => {
  vi.useFakeTimers();
  const deadlines = new CommandDeadlines(5_000);
  try {
    const hung = deadlines.track(new Promise<never>(() => undefined));
    const outcome = hung.then(
      () => 'answered',
      (error: unknown) => error,
    );
    let answer: (value: string) => void = () => undefined;
    const slow = deadlines.track(new Promise<string>((resolve) => (answer = resolve)));
    const failing = deadlines.track(Promise.reject(new Error('WRONGTYPE')));
    await expect(failing).rejects.toThrow('WRONGTYPE');

    await vi.advanceTimersByTimeAsync(4_900);
    answer('OK');
    await expect(slow).resolves.toBe('OK');
    let settled = false;
    void outcome.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);

    await vi.advanceTimersByTimeAsync(1_200);
    const error = await outcome;
    // It may still run in Redis: the answer says so, and how to check before sending again.
    expect(storeUnavailable(error)).toBe(
      "The relay's store did not answer in time, so what was asked may still take effect: try again in a few seconds, and after a send, poll first to see whether it arrived.",
    );
  } finally {
    deadlines.close();
  }
});
