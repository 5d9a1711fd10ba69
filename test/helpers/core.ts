/** A core on a fresh temporary store, with every log line captured for the tests to inspect. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  type Clock,
  type Core,
  type CoreOptions,
  createCore,
  createLogger,
  type LogLevel,
  NexusError,
} from '../../src/core/index.js';
import type { StoredSession } from '../../src/core/store.js';
import { cleanup } from './cleanup.js';

export interface TestCore extends Core {
  home: string;
  lines: { level: LogLevel; message: string; data?: Record<string, unknown> }[];
}

export function tempDir(prefix = 'nexus-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function makeCore(
  url: string,
  options: {
    home?: string;
    agentId?: string;
    clock?: Clock;
    pollIntervalMs?: number;
    timeoutMs?: number;
    requestsPerMinute?: number;
    autoRejoin?: boolean;
  } & Pick<CoreOptions, 'client' | 'longPollMs'> = {},
): TestCore {
  const home = options.home ?? tempDir();
  const lines: TestCore['lines'] = [];
  const core = createCore({
    config: {
      url,
      home,
      ...(options.agentId !== undefined && { agentId: options.agentId }),
      httpTimeoutMs: options.timeoutMs ?? 5_000,
      pollIntervalMs: options.pollIntervalMs ?? 50,
      ...(options.autoRejoin !== undefined && { autoRejoin: options.autoRejoin }),
      ...(options.requestsPerMinute !== undefined && {
        requestsPerMinute: options.requestsPerMinute,
      }),
    },
    logger: createLogger((level, message, data) =>
      lines.push({ level, message, ...(data && { data }) }),
    ),
    ...(options.clock && { clock: options.clock }),
    client: options.client ?? { retry: { baseDelayMs: 1, maxDelayMs: 5 } },
    ...(options.longPollMs !== undefined && { longPollMs: options.longPollMs }),
  });
  cleanup(() => core.close());
  return { ...core, home, lines };
}

/** The NexusError a call fails with; fails the test when the call succeeds. */
export async function failure(promise: Promise<unknown>): Promise<NexusError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(NexusError);
    return error as NexusError;
  }
  throw new Error('expected the call to fail');
}

/**
 * A membership as the store holds it, for planting a session the relay may not know (a faulty
 * or unreachable relay): agent `bob` with a dummy key, read position 0, unless overridden.
 */
export function storedSession(
  fields: Pick<StoredSession, 'sessionId' | 'server'> & Partial<StoredSession>,
): StoredSession {
  const now = new Date().toISOString();
  return {
    agentId: 'bob',
    sessionKey: 'k',
    cursor: '0',
    role: 'member',
    createdAt: now,
    lastUsedAt: now,
    ...fields,
  };
}
