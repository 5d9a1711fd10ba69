import { describe, expect, it } from 'vitest';
import { newMessageId } from '../../src/relay/secrets.js';

describe('message ids', () => {
  it('are msg_ and 24 hex characters, distinct across refills of the random pool', () => {
    const ids = Array.from({ length: 1_000 }, () => newMessageId());
    for (const id of ids) expect(id).toMatch(/^msg_[0-9a-f]{24}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
