import { describe, expect, it } from 'vitest';
import { MessageLog } from '../../src/relay/message-log.js';
import type { StoredMessage } from '../../src/relay/storage.js';

function message(cursor: number, expiresAt = Number.MAX_SAFE_INTEGER): StoredMessage {
  return {
    id: `msg_${cursor}`,
    agentId: 'a',
    text: String(cursor),
    cursor,
    verified: false,
    createdAt: 0,
    expiresAt,
  };
}

describe('MessageLog', () => {
  it('finds the start of a read among 100 000 held messages', () => {
    const log = new MessageLog();
    for (let cursor = 1; cursor <= 100_000; cursor++) log.push(message(cursor), 100_000);
    expect(log.size).toBe(100_000);
    expect(log.after(99_997, 10, 0).map((m) => m.cursor)).toEqual([99_998, 99_999, 100_000]);
    expect(log.after(0, 2, 0).map((m) => m.cursor)).toEqual([1, 2]);
    expect(log.after(undefined, 1, 0).map((m) => m.cursor)).toEqual([1]);
    expect(log.after(50_000, 1, 0).map((m) => m.cursor)).toEqual([50_001]);
    expect(log.after(100_000, 10, 0)).toEqual([]);
  });

  it('drops the oldest past the cap and keeps reads right across compactions', () => {
    const log = new MessageLog();
    for (let cursor = 1; cursor <= 10_000; cursor++) log.push(message(cursor), 1500);
    expect(log.size).toBe(1500);
    expect(log.after(undefined, 1, 0).map((m) => m.cursor)).toEqual([8501]);
    // A cursor older than everything held reads from the oldest held.
    expect(log.after(3, 2, 0).map((m) => m.cursor)).toEqual([8501, 8502]);
    expect(log.after(9998, 5, 0).map((m) => m.cursor)).toEqual([9999, 10_000]);
  });

  it('skips gaps in cursors (as after a restart)', () => {
    const log = new MessageLog();
    for (const cursor of [5, 6, 40, 41]) log.push(message(cursor), 10);
    expect(log.after(6, 10, 0).map((m) => m.cursor)).toEqual([40, 41]);
    expect(log.after(10, 10, 0).map((m) => m.cursor)).toEqual([40, 41]);
  });

  it('drops expired messages from the oldest end and hides expired ones elsewhere', () => {
    const log = new MessageLog();
    log.push(message(1, 100), 10);
    log.push(message(2, 300), 10);
    log.push(message(3, 150), 10);
    log.push(message(4, 400), 10);
    expect(log.after(undefined, 10, 200).map((m) => m.cursor)).toEqual([2, 4]);
    expect(log.size).toBe(3);
  });
});
