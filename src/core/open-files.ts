/**
 * Small files kept open between calls (read-position records, encryption state): an open and a
 * close cost more than the read or write itself. At most `max` stay open, the least recently
 * opened closing first; a file another process removed (no links left) is opened afresh.
 */
import { closeSync, fstatSync, openSync } from 'node:fs';

export class OpenFiles {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** The open file at `path`; created (0600) when `create`, else undefined when missing. */
  get(path: string, create: boolean): number | undefined {
    let fd = this.open.get(path);
    if (fd !== undefined && fstatSync(fd).nlink === 0) {
      this.close(path);
      fd = undefined;
    }
    if (fd !== undefined) return fd;
    try {
      fd = openSync(path, 'r+');
    } catch (error) {
      if (!create || (error as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
      fd = openSync(path, 'w+', 0o600);
    }
    this.open.set(path, fd);
    if (this.open.size > this.max) {
      const oldest = this.open.keys().next().value;
      if (oldest !== undefined) this.close(oldest);
    }
    return fd;
  }

  close(path: string): void {
    const fd = this.open.get(path);
    if (fd === undefined) return;
    this.open.delete(path);
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
