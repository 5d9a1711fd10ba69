/**
 * Relay restarts are invisible: the built relay with its durable store (`relay --data-dir`,
 * SQLite by default) is stopped (SIGTERM) or killed (SIGKILL) during a wait and between calls,
 * and started again on the same port; the conversation carries on with nothing lost and nothing
 * repeated.
 */
import { describe, expect, it, vi } from 'vitest';
import { cleanup } from '../helpers/cleanup.js';
import { makeCore, tempDir } from '../helpers/core.js';
import { closedPort } from '../helpers/faulty-server.js';
import { RelayProcess } from './relay-process.js';

/** One relay address and data dir, across restarts. */
class RestartableRelay {
  private process: RelayProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dataDir: string,
  ) {}

  static async start(): Promise<RestartableRelay> {
    const relay = new RestartableRelay(await closedPort(), tempDir('nexus-relay-data-'));
    await relay.start();
    cleanup(() => relay.stop('SIGKILL'));
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.process = await RelayProcess.start([
      '--port',
      String(this.port),
      '--data-dir',
      this.dataDir,
    ]);
  }

  async stop(signal: NodeJS.Signals): Promise<void> {
    await this.process?.stop(signal);
    this.process = undefined;
  }
}

async function conversation(relay: RestartableRelay) {
  const alice = makeCore(relay.url, { agentId: 'alice' });
  const bob = makeCore(relay.url, { agentId: 'bob' });
  const { session } = await alice.manager.create({ alias: 'chat', greeting: 'hi' });
  await bob.manager.join({ sessionId: session.sessionId, alias: 'chat' });
  await bob.manager.poll('chat');
  return { alice, bob };
}

const texts = (messages: readonly { text: string }[]) => messages.map((message) => message.text);

describe('relay restarts', () => {
  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'a wait in progress rides out a restart (%s) and gets the next message',
    async (signal) => {
      const relay = await RestartableRelay.start();
      const { alice, bob } = await conversation(relay);
      await alice.manager.send('chat', { text: 'before' });
      expect(texts((await bob.manager.poll('chat')).messages)).toEqual(['before']);

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
    const relay = await RestartableRelay.start();
    const { alice, bob } = await conversation(relay);
    await alice.manager.send('chat', { text: 'one' });
    await bob.manager.send('chat', { text: 'two' });
    expect(texts((await alice.manager.poll('chat')).messages)).toEqual(['two']);
    expect(texts((await bob.manager.poll('chat')).messages)).toEqual(['one', 'two']);
    await alice.manager.send('chat', { text: 'sent just before the crash' });
    await relay.stop('SIGKILL');
    await relay.start();

    await alice.manager.send('chat', { text: 'three' });
    await bob.manager.send('chat', { text: 'four' });
    expect(texts((await bob.manager.poll('chat')).messages)).toEqual([
      'sent just before the crash',
      'three',
      'four',
    ]);
    expect(texts((await alice.manager.poll('chat')).messages)).toEqual(['four']);
    expect((await bob.manager.status('chat')).members).toEqual(['alice', 'bob']);
  }, 40_000);
});
