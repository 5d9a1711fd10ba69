/**
 * Relay restarts are invisible: the built relay (`dist/cli.js relay --data-dir`) is stopped
 * (SIGTERM) during a wait and killed (SIGKILL) between calls, and started again on the same
 * port; the conversation carries on with nothing lost and nothing repeated.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { cleanup } from '../helpers/cleanup.js';
import { makeCore, tempDir } from '../helpers/core.js';
import { closedPort } from '../helpers/faulty-server.js';
import { CLI } from '../helpers/mcp.js';

/** Whether this relay keeps messages across a restart (a durable message store). */
const durableMessages = /--store\b/.test(
  spawnSync(process.execPath, [CLI, 'relay', '--help'], { encoding: 'utf8' }).stdout ?? '',
);

class RelayProcess {
  private child: ChildProcess | undefined;
  constructor(
    readonly port: number,
    readonly dataDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      process.execPath,
      [CLI, 'relay', '--port', String(this.port), '--data-dir', this.dataDir],
      { env: { ...process.env, RATE_LIMIT_PER_MINUTE: '0' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    let said = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr?.on('data', (chunk: Buffer) => {
        said += chunk.toString();
        if (said.includes('nexus relay listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`relay exited (${code}): ${said}`)));
    });
  }

  async stop(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  /** The session's metadata as flushed to disk: what survives a SIGKILL. */
  flushed(sessionId: string): { lastCursor: number; agents: { agentId: string }[] } | undefined {
    const file = join(this.dataDir, 'sessions.json');
    if (!existsSync(file)) return undefined;
    const data = JSON.parse(readFileSync(file, 'utf8')) as {
      sessions: { sessionId: string; lastCursor: number; agents: { agentId: string }[] }[];
    };
    return data.sessions.find((session) => session.sessionId === sessionId);
  }
}

async function startRelay(): Promise<RelayProcess> {
  expect(existsSync(CLI), 'run `npm run build` first (npm test does)').toBe(true);
  const relay = new RelayProcess(await closedPort(), tempDir('nexus-relay-data-'));
  await relay.start();
  cleanup(() => relay.stop('SIGKILL'));
  return relay;
}

async function conversation(relay: RelayProcess) {
  const alice = makeCore(relay.url, { agentId: 'alice' });
  const bob = makeCore(relay.url, { agentId: 'bob' });
  const { session } = await alice.manager.create({ alias: 'chat', greeting: 'hi' });
  await bob.manager.join({ sessionId: session.sessionId, alias: 'chat' });
  await bob.manager.poll('chat');
  return { alice, bob, sessionId: session.sessionId };
}

const texts = (messages: readonly { text: string }[]) => messages.map((message) => message.text);

describe('relay restarts', () => {
  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'a wait in progress rides out a restart (%s) and gets the next message',
    async (signal) => {
      const relay = await startRelay();
      const { alice, bob, sessionId } = await conversation(relay);
      await alice.manager.send('chat', { text: 'before' });
      expect(texts((await bob.manager.poll('chat')).messages)).toEqual(['before']);
      await vi.waitFor(() => expect(relay.flushed(sessionId)?.lastCursor).toBe(1), {
        timeout: 5_000,
        interval: 20,
      });

      const waiting = bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 30_000 });
      await vi.waitFor(() => expect(bob.watcher.activeLoops()).toBe(1), { interval: 5 });
      await relay.stop(signal);
      await relay.start();
      await alice.manager.send('chat', { text: 'after the restart' });

      const waited = await waiting;
      expect(waited.timedOut).toBe(false);
      expect(waited.errors).toEqual([]);
      expect(texts(waited.results[0]?.messages ?? [])).toEqual(['after the restart']);
      expect((await bob.manager.poll('chat')).messages).toEqual([]);
    },
    40_000,
  );

  it('a relay killed (SIGKILL) between calls costs nothing: no message lost or repeated', async () => {
    const relay = await startRelay();
    const { alice, bob, sessionId } = await conversation(relay);
    await alice.manager.send('chat', { text: 'one' });
    await bob.manager.send('chat', { text: 'two' });
    expect(texts((await alice.manager.poll('chat')).messages)).toEqual(['two']);
    expect(texts((await bob.manager.poll('chat')).messages)).toEqual(['one', 'two']);
    // Without a durable store the relay keeps only what it flushed (every 250 ms).
    await vi.waitFor(() => expect(relay.flushed(sessionId)?.lastCursor).toBe(2), {
      timeout: 5_000,
      interval: 20,
    });
    const unread = durableMessages;
    if (unread) await alice.manager.send('chat', { text: 'sent just before the crash' });
    await relay.stop('SIGKILL');
    await relay.start();

    await alice.manager.send('chat', { text: 'three' });
    await bob.manager.send('chat', { text: 'four' });
    expect(texts((await bob.manager.poll('chat')).messages)).toEqual([
      ...(unread ? ['sent just before the crash'] : []),
      'three',
      'four',
    ]);
    expect(texts((await alice.manager.poll('chat')).messages)).toEqual(['four']);
    expect((await bob.manager.status('chat')).members).toEqual(['alice', 'bob']);
    if (!unread) {
      console.warn(
        'relay restarts: this relay keeps messages in memory only (no --store): the case of a message sent just before the crash runs once the durable store is in.',
      );
    }
  }, 40_000);
});
