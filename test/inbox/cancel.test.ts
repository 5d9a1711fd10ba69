/**
 * Nothing lost to a cancel: a client cancels 150 waits at random moments while a peer sends.
 * Whatever those cancels cut off, the next polls return every message not yet shown, once.
 */
import { describe, expect, it } from 'vitest';
import { makeCore } from '../helpers/core.js';
import { startServer } from '../helpers/mcp.js';
import { useRelay } from '../helpers/relay.js';

interface Shown {
  messages: { text: string; own?: boolean; greeting?: boolean }[];
  has_more: boolean;
}

const WAITS = 150;

/** A small seeded generator: the same "random" moments on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe('inbox: cancelled waits', async () => {
  const relay = await useRelay();

  it('loses nothing when 150 waits are cancelled at random moments while a peer sends', async () => {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create({ alias: 'chat', pair: true });
    const bob = await startServer({ relayUrl: relay.url, agentId: 'bob' });
    await bob.ok('claim_pairing_code', { code: created.pairing?.code, alias: 'chat' });

    const shown: string[] = [];
    const take = (result: Shown) => {
      for (const message of result.messages)
        if (!message.own && !message.greeting) shown.push(message.text);
    };
    const sent: string[] = [];
    let sending = true;
    const peer = (async () => {
      while (sending) {
        const text = `m-${sent.length}`;
        await alice.manager.send('chat', { text });
        sent.push(text);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    const random = seeded(11);
    let cancelled = 0;
    for (let i = 0; i < WAITS; i++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), Math.floor(random() * 12));
      const result = await bob.client
        .callTool(
          { name: 'wait_for_messages', arguments: { session: 'chat', timeout_seconds: 5 } },
          undefined,
          {
            signal: controller.signal,
          },
        )
        .catch(() => undefined);
      clearTimeout(timer);
      if (result === undefined) cancelled++;
      else take(result.structuredContent as unknown as Shown);
    }
    sending = false;
    await peer;

    // Afterwards, polling returns everything not yet shown.
    for (;;) {
      const page = await bob.ok<Shown>('poll_messages', { session: 'chat', limit: 200 });
      take(page);
      if (!page.has_more && page.messages.length === 0) break;
    }
    expect(cancelled).toBeGreaterThan(WAITS / 4);
    expect(sent.length).toBeGreaterThan(0);
    expect([...new Set(shown)].sort()).toEqual([...sent].sort());
    expect(shown.length).toBe(sent.length);
  }, 120_000);
});
