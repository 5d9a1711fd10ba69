/** A store entry for tests that write the store directly. */
import type { StoredSession } from '../../src/core/store.js';

export const storedSession = (
  sessionId: string,
  extra: Partial<StoredSession> = {},
): StoredSession => ({
  sessionId,
  server: 'http://127.0.0.1:1',
  agentId: 'me',
  sessionKey: 'secret-key',
  cursor: '0',
  role: 'member',
  createdAt: '2026-11-25T00:00:00.000Z',
  lastUsedAt: '2026-11-25T00:00:00.000Z',
  ...extra,
});
