/**
 * The commit rule's second half, in the core: messages handed over and then given back (the
 * host cancelled after the answer was sent) are handed over again, before anything newer, by the
 * next poll or wait of any process on the store, and only once.
 */
import { describe, expect, it } from 'vitest';
import { makeCore, tempDir } from '../helpers/core.js';
import { useRelay } from '../helpers/relay.js';

describe('inbox: giving messages back', async () => {
  const relay = await useRelay();

  async function conversation() {
    const home = tempDir();
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const bob = makeCore(relay.url, { agentId: 'bob', home });
    const { session, pairing } = await alice.manager.create({ alias: 'chat', pair: true });
    await bob.manager.claim({ code: pairing?.code ?? '', alias: 'chat' });
    // A second process of bob's on the same store.
    const bobToo = makeCore(relay.url, { agentId: 'bob', home });
    return { alice, bob, bobToo, id: session.sessionId };
  }

  it('hands given-back messages over again, first, to whichever process asks next', async () => {
    const { alice, bob, bobToo } = await conversation();
    for (const text of ['one', 'two']) await alice.manager.send('chat', { text });
    const first = await bob.manager.poll('chat');
    expect(first.messages.map((m) => m.text)).toEqual(['one', 'two']);
    await alice.manager.send('chat', { text: 'three' });
    const second = await bobToo.manager.poll('chat');
    expect(second.messages.map((m) => m.text)).toEqual(['three']);

    // The host never saw the first answer.
    bob.manager.inbox.giveBack(first.delivery ? [first.delivery] : []);
    expect(bob.manager.info('chat').cursor).toBe('3');
    const again = await bobToo.manager.poll('chat');
    expect(again.messages.map((m) => m.text)).toEqual(['one', 'two']);
    expect((await bob.manager.poll('chat')).messages).toEqual([]);
  });

  it('gives back in pieces when a re-offer is cut by the limit, and a wait takes them too', async () => {
    const { alice, bob, bobToo } = await conversation();
    for (const text of ['a', 'b', 'c']) await alice.manager.send('chat', { text });
    const all = await bob.manager.poll('chat');
    bob.manager.inbox.giveBack(all.delivery ? [all.delivery] : []);
    const part = await bobToo.manager.poll('chat', { limit: 2 });
    expect(part.messages.map((m) => m.text)).toEqual(['a', 'b']);
    expect(part.hasMore).toBe(true);
    const waited = await bob.watcher.waitForMessages({ sessions: ['chat'], timeoutMs: 5_000 });
    expect(waited.results[0]?.messages.map((m) => m.text)).toEqual(['c']);
    await alice.manager.send('chat', { text: 'd' });
    const next = await bobToo.manager.poll('chat');
    expect(next.messages.map((m) => m.text)).toEqual(['d']);
  });
});
