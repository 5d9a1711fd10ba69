/**
 * Exactly once per store, end to end: eight built servers of one agent share one store, as the
 * hosts on one machine do, and read one session while a peer writes; some are SIGKILLed while
 * their calls are in flight and started again. Every message reaches exactly one tool call.
 */
import { describe, expect, it, vi } from 'vitest';
import { makeCore, tempDir } from '../helpers/core.js';
import { type Harness, startServer } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';

interface Shown {
  messages: { text: string; own?: boolean; greeting?: boolean }[];
}

const PROCESSES = 8;
const MESSAGES = 200;
const BURSTS = 10;

describe('inbox: exactly once across processes sharing a store', async () => {
  const relay = await useRelay();

  it('delivers each of 200 messages to exactly one call across 8 processes, SIGKILLs included', async () => {
    const home = tempDir();
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create({ alias: 'chat', pair: true });
    const first = await startServer({ relayUrl: relay.url, agentId: 'bob', home });
    await first.ok('claim_pairing_code', { code: created.pairing?.code, alias: 'chat' });

    const delivered: string[] = [];
    let stopping = false;
    let calls = 0;
    /** Reads until the process dies or the test stops it: waits mostly, a poll every third call. */
    const collect = async (server: Harness) => {
      while (!stopping) {
        const poll = ++calls % 3 === 0;
        const result = await server
          .call(
            poll ? 'poll_messages' : 'wait_for_messages',
            poll ? { session: 'chat' } : { session: 'chat', timeout_seconds: 5 },
          )
          .catch(() => undefined);
        if (!result || stopping) return; // killed, or closed at the end
        expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
        const shown = result.structuredContent as unknown as Shown;
        for (const message of shown.messages)
          if (!message.own && !message.greeting) delivered.push(message.text);
      }
    };
    const servers: Harness[] = [first];
    for (let i = 1; i < PROCESSES; i++)
      servers.push(await startServer({ relayUrl: relay.url, agentId: 'bob', home }));
    const loops = servers.map(collect);

    const unique = () => new Set(delivered).size;
    let sent = 0;
    let killed = 0;
    for (let burst = 0; burst < BURSTS; burst++) {
      for (let i = 0; i < MESSAGES / BURSTS; i++)
        await alice.manager.send('chat', { text: `m-${String(sent++).padStart(3, '0')}` });
      await vi.waitFor(() => expect(unique()).toBe(sent), { timeout: 20_000, interval: 20 });
      // Every process is now inside a call (a held wait, or about to start one): kill two.
      for (const victim of [burst % PROCESSES, (burst + 3) % PROCESSES]) {
        const server = servers[victim] as Harness;
        if (server.pid) process.kill(server.pid, 'SIGKILL');
        killed++;
        servers[victim] = await startServer({ relayUrl: relay.url, agentId: 'bob', home });
        loops.push(collect(servers[victim] as Harness));
      }
    }
    // A last sweep from a fresh process finds nothing left over.
    const sweeper = await startServer({ relayUrl: relay.url, agentId: 'bob', home });
    const rest = await sweeper.ok<Shown>('poll_messages', { session: 'chat' });
    stopping = true;
    await Promise.all(servers.map((server) => server.close()));
    await Promise.all(loops);

    const expected = Array.from({ length: MESSAGES }, (_, i) => `m-${String(i).padStart(3, '0')}`);
    expect(rest.messages).toEqual([]);
    expect(killed).toBe(2 * BURSTS);
    expect([...new Set(delivered)].sort()).toEqual(expected);
    // Duplicates: a message shown by two calls would appear twice here.
    expect(delivered.length - new Set(delivered).size).toBe(0);
  }, 120_000);
});
