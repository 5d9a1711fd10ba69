import { TimeoutError } from '@redis/client';

/**
 * Fails a Redis command left unanswered for `timeoutMs` (to within a second) as the store being
 * unreachable (503), like @redis/client's own per-command timeout, but checked by one timer a
 * second: the client's timeout arms a timer and an AbortSignal per command that stay alive for
 * the whole timeout, which under load cost more CPU than the command's own work.
 */
export class CommandDeadlines {
  /** Rejections of the commands sent in each of the last seconds, newest first. */
  private readonly buckets: Set<(error: Error) => void>[] = [new Set()];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly timeoutMs: number) {
    this.timer = setInterval(() => this.tick(), 1_000);
    this.timer.unref();
  }

  /** `command`'s outcome, or a TimeoutError (as the client's own) once it is overdue. */
  track<T>(command: Promise<T>): Promise<T> {
    const bucket = this.buckets[0] as Set<(error: Error) => void>;
    return new Promise<T>((resolve, reject) => {
      bucket.add(reject);
      command.then(
        (value) => {
          bucket.delete(reject);
          resolve(value);
        },
        (error: unknown) => {
          bucket.delete(reject);
          reject(error);
        },
      );
    });
  }

  close(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    this.buckets.unshift(new Set());
    // A bucket's commands were sent between `length − 1` and `length` seconds ago.
    if (this.buckets.length <= Math.ceil(this.timeoutMs / 1_000) + 1) return;
    const overdue = this.buckets.pop() as Set<(error: Error) => void>;
    for (const reject of overdue) reject(new TimeoutError());
  }
}
