import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import type { RelayOptions } from '../../src/relay/index.js';

export const STORE_KINDS = ['memory', 'sqlite', 'redis'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** A free loopback port (the OS picks it; closed again before it is handed out). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A real redis-server on a free loopback port, nothing saved to disk. */
export class RedisServer {
  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(): Promise<RedisServer> {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString('utf8');
        if (output.includes('Ready to accept connections')) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('error', (error) =>
        reject(new Error(`redis-server could not start (${error.message}): install redis-server`)),
      );
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
    });
    child.stdout?.removeAllListeners('data');
    child.stderr?.removeAllListeners('data');
    child.stdout?.resume();
    child.stderr?.resume();
    return new RedisServer(`redis://127.0.0.1:${port}`, child);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}

let current: StoreKind = 'memory';
let redis: RedisServer | undefined;
let scratch: string | undefined;
let counter = 0;

/** The store options for the next relay of the running suite: a fresh database or key prefix. */
export function storeOptions(): RelayOptions {
  counter++;
  switch (current) {
    case 'memory':
      return { store: 'memory' };
    case 'sqlite':
      scratch ??= mkdtempSync(join(tmpdir(), 'nexus-sqlite-'));
      return { store: `sqlite:${join(scratch, `relay-${counter}.db`)}` };
    case 'redis':
      if (!redis) throw new Error('no redis-server: use describeEachStore');
      return { store: redis.url, redisKeyPrefix: `t${process.pid}-${counter}:` };
  }
}

/** The running suite's Redis (started by describeEachStore for the redis run). */
export function redisServer(): RedisServer {
  if (!redis) throw new Error('no redis-server: use describeEachStore');
  return redis;
}

/**
 * `describe` once per backend: every TestRelay started inside gets that store (a fresh SQLite
 * file, or a fresh key prefix on a real redis-server started for the block).
 */
export function describeEachStore(name: string, body: (kind: StoreKind) => void): void {
  describe.each(STORE_KINDS)(`${name} [%s store]`, (kind) => {
    beforeAll(async () => {
      current = kind;
      if (kind === 'redis') redis ??= await RedisServer.start();
    });
    afterAll(async () => {
      current = 'memory';
      await redis?.stop();
      redis = undefined;
      if (scratch) rmSync(scratch, { recursive: true, force: true });
      scratch = undefined;
    });
    body(kind);
  });
}
