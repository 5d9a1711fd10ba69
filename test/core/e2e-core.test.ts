/** End-to-end encryption in the client core: joining by id with the key, refusals, odd inputs. */
import { describe, expect, it } from 'vitest';
import { createCore, createLogger } from '../../src/core/index.js';
import {
  base32Decode,
  E2eKey,
  sealEnvelope,
  splitE2eLink,
  withE2eFragment,
} from '../../src/protocol/e2e/index.js';
import { failure, makeCore, tempDir } from '../helpers/core.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { RecordingProxy } from '../helpers/recording-proxy.js';
import { useRelay } from '../helpers/relay.js';

const TOKEN = `ghp_${'Z9y8X7w6V5'.repeat(4)}`;

async function sendRaw(
  server: string,
  sessionId: string,
  agent: { agentId: string; sessionKey: string },
  text: string,
): Promise<void> {
  const response = await fetch(`${server}/v1/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Agent-Id': agent.agentId,
      'X-Session-Key': agent.sessionKey,
    },
    body: JSON.stringify({ text }),
  });
  expect(response.ok).toBe(true);
}

describe('end-to-end encryption in the core', async () => {
  const relay = await useRelay();
  const proxy = await RecordingProxy.use(relay.url);

  async function encrypted() {
    const alice = makeCore(proxy.url, { agentId: 'alice' });
    const created = await alice.manager.create({ e2e: true, greeting: 'hi bob', alias: 'x' });
    const stored = alice.store.get(created.session.sessionId);
    const key = E2eKey.fromSecret(Buffer.from(stored?.e2e?.secret ?? '', 'base64url'));
    return { alice, sessionId: created.session.sessionId, key };
  }

  it('joins by id with the key in a fragment: the id alone reaches the relay', async () => {
    const { alice, sessionId, key } = await encrypted();
    const bob = makeCore(proxy.url, { agentId: 'bob' });
    const joined = await bob.manager.join({ sessionId: withE2eFragment(sessionId, key) });
    expect(joined.session.e2e?.key).toBe('present');
    expect(joined.greeting).toEqual({ from: 'alice', text: 'hi bob' });
    expect(proxy.transcript()).not.toContain('e2e=');
    const read = await alice.manager.poll('x');
    expect(read.messages.filter((m) => !m.own)).toEqual([]);
    expect(alice.manager.info('x').e2e?.confirmed_members).toEqual(['bob']);
  });

  it('attaches the key of a code claimed bare and never read since', async () => {
    const { alice } = await encrypted();
    const pairing = await alice.manager.pair('x');
    const carol = makeCore(proxy.url, { agentId: 'carol' });
    const bare = await carol.manager.claim({ code: splitE2eLink(pairing.url).link });
    expect(bare.session.e2e?.key).toBe('missing');
    const full = await carol.manager.claim({ code: pairing.url });
    expect(full).toMatchObject({ keyAttached: true, session: { e2e: { key: 'present' } } });
    expect(full.greeting).toEqual({ from: 'alice', text: 'hi bob' });
    const wrong = await failure(
      carol.manager.claim({ code: withE2eFragment(pairing.url, E2eKey.generate()) }),
    );
    expect(wrong.code).toBe('code_expired_or_used');
  });

  it('keeps a plain session plain when a peer posts envelopes into it', async () => {
    const alice = makeCore(proxy.url, { agentId: 'alice' });
    const created = await alice.manager.create({ alias: 'plain' });
    const bob = makeCore(proxy.url, { agentId: 'bob' });
    await bob.manager.join({ sessionId: created.session.sessionId });
    const bobKey = bob.store.get(created.session.sessionId)?.sessionKey ?? '';
    const envelope = sealEnvelope({
      key: E2eKey.generate(),
      sessionId: created.session.sessionId,
      senderAgentId: 'bob',
      kind: 'message',
      seq: 1,
      payload: { text: 'from elsewhere' },
    });
    await sendRaw(
      relay.url,
      created.session.sessionId,
      { agentId: 'bob', sessionKey: bobKey },
      envelope,
    );
    await sendRaw(
      relay.url,
      created.session.sessionId,
      { agentId: 'bob', sessionKey: bobKey },
      'plain',
    );
    const read = await alice.manager.poll('plain');
    expect(read.messages.map((m) => [m.e2eError ?? m.text, m.encrypted])).toEqual([
      ['no_key', true],
      ['plain', undefined],
    ]);
    expect(alice.manager.info('plain').e2e).toBeUndefined();
    expect((await alice.manager.send('plain', { text: 'still plain' })).format).toBe('text');
  });

  it('refuses a damaged key in a link before asking any relay', async () => {
    const bob = makeCore(proxy.url, { agentId: 'bob' });
    const before = proxy.exchanges.length;
    const bad = await failure(
      bob.manager.claim({ code: `${relay.url}/p/AAAA-BBBB-CCCCC#e2e=1.short` }),
    );
    expect(bad.code).toBe('invalid_e2e_link');
    expect(bad.message).not.toContain('short');
    const newer = await failure(bob.manager.join({ sessionId: `${'a'.repeat(48)}#e2e=2.xyz` }));
    expect(newer.code).toBe('unsupported_e2e_version');
    expect(proxy.exchanges.length).toBe(before);
    expect(bob.manager.sessions()).toEqual([]);
  });

  it('refuses a payload too large to encrypt without spending a seq', async () => {
    const { alice } = await encrypted();
    const big = await failure(alice.manager.send('x', { text: 'a'.repeat(17 * 1024) }));
    expect(big.code).toBe('plaintext_too_large');
    await alice.manager.send('x', { text: 'small' });
    const sent = proxy.sentBodies().at(-1)?.body as { text: string };
    const raw = base32Decode(sent.text.slice('nxe1.'.length)) ?? new Uint8Array(14);
    // The greeting took seq 1; the refused message took none.
    expect(Buffer.from(raw).readBigUInt64BE(6)).toBe(2n);
  });

  it("flags plaintext in an encrypted session and reports gaps in a sender's seqs", async () => {
    const { alice, sessionId, key } = await encrypted();
    const bob = makeCore(proxy.url, { agentId: 'bob' });
    await bob.manager.join({ sessionId: withE2eFragment(sessionId, key) });
    const bobKey = bob.store.get(sessionId)?.sessionKey ?? '';
    await alice.manager.poll('x');
    await sendRaw(relay.url, sessionId, { agentId: 'bob', sessionKey: bobKey }, 'plain words');
    const skipped = sealEnvelope({
      key,
      sessionId,
      senderAgentId: 'bob',
      kind: 'message',
      seq: 6,
      payload: { text: 'after a gap' },
    });
    await sendRaw(relay.url, sessionId, { agentId: 'bob', sessionKey: bobKey }, skipped);
    const read = await alice.manager.poll('x');
    expect(read.messages).toEqual([
      expect.objectContaining({
        text: 'plain words',
        encrypted: false,
        warning: expect.any(String),
      }),
      expect.objectContaining({ text: 'after a gap', decrypted: true, gapBefore: 4 }),
    ]);
  });

  it('shares the replay guard and the read position between processes of one store', async () => {
    const { alice, sessionId, key } = await encrypted();
    const bob = makeCore(proxy.url, { agentId: 'bob' });
    await bob.manager.join({ sessionId: withE2eFragment(sessionId, key) });
    // A second server of the same agent on the same store: its own caches, the same files.
    const other = makeCore(proxy.url, { home: bob.home, agentId: 'bob' });
    await bob.manager.poll(sessionId);
    await alice.manager.poll('x');
    await alice.manager.send('x', { text: 'pay 5 coins' });
    // Both fetch the one new message before either hands it over: one of them gets it.
    const stored = bob.store.get(sessionId);
    if (!stored) throw new Error('bob has no session');
    const fetched = await Promise.all(
      [bob, other].map((core) => core.manager.inbox.fetch(stored, { limit: 50, deferGuard: true })),
    );
    const handed = [bob, other].map(
      (core, i) =>
        core.manager.inbox.handOver(fetched[i] as (typeof fetched)[number], {
          limit: 50,
          budgetChars: 20_000,
          commit: true,
        }).messages,
    );
    expect(handed.flat().map((message) => message.text)).toEqual(['pay 5 coins']);
    // The relay serves the same envelope again under a new cursor: the other process, whose
    // guard never saw the original, still knows it as a replay.
    const aliceKey = alice.store.get(sessionId)?.sessionKey ?? '';
    const response = await fetch(`${relay.url}/v1/sessions/${sessionId}/messages?after=0`, {
      headers: { 'X-Agent-Id': 'alice', 'X-Session-Key': aliceKey },
    });
    const { messages } = (await response.json()) as { messages: { text: string }[] };
    const original = messages.at(-1)?.text ?? '';
    await sendRaw(relay.url, sessionId, { agentId: 'alice', sessionKey: aliceKey }, original);
    const replayed = await (handed[0]?.length === 1 ? other : bob).manager.poll(sessionId);
    expect(replayed.messages).toEqual([
      expect.objectContaining({ encrypted: true, decrypted: false, e2eError: 'replayed' }),
    ]);
    expect(replayed.messages[0]?.text).not.toContain('pay 5 coins');
  });

  it('redacts only when the human left it on, and refuses stored keys either way', async () => {
    const home = tempDir();
    const core = createCore({
      config: {
        url: relay.url,
        home,
        httpTimeoutMs: 5_000,
        pollIntervalMs: 50,
        clientRedaction: false,
      },
      logger: createLogger(() => undefined),
    });
    try {
      const created = await core.manager.create({ alias: 'plain' });
      const sent = await core.manager.send('plain', { text: `token ${TOKEN}` });
      // The relay redacts it still; this client did not.
      expect(sent.redacted).toBe(1);
      const key = core.store.get(created.session.sessionId)?.sessionKey ?? '';
      const refused = await failure(core.manager.send('plain', { text: `key ${key}` }));
      expect(refused.code).toBe('secret_in_message');
      expect(refused.message).not.toContain(key);
    } finally {
      await core.close();
    }
  });
});

describe('end-to-end encryption and recovered memberships', async () => {
  const clock = new FakeClock();
  const relay = await useRelay({ clock, agentInactivitySeconds: 3 });

  async function encryptedPair() {
    const alice = makeCore(relay.url, { agentId: 'alice' });
    const created = await alice.manager.create({ e2e: true, alias: 'chat', greeting: 'hi' });
    const pairing = await alice.manager.pair('chat');
    const bob = makeCore(relay.url, { agentId: 'bob' });
    await bob.manager.claim({ code: pairing.url, alias: 'chat' });
    await alice.manager.poll('chat');
    await bob.manager.poll('chat');
    return { alice, bob, sessionId: created.session.sessionId };
  }

  it('keeps sealing and opening after a rejoin under the same id', async () => {
    const { alice, bob } = await encryptedPair();
    clock.advanceSeconds(4);
    await alice.manager.send('chat', { text: 'while bob was away' });
    const sent = await bob.manager.send('chat', { text: 'back' });
    expect(sent).toMatchObject({ format: 'encrypted', rejoined: { agentId: 'bob' } });
    const read = await alice.manager.poll('chat');
    expect(read.messages.map((m) => [m.from, m.text, m.decrypted])).toEqual([
      ['bob', 'back', true],
    ]);
    expect((await bob.manager.poll('chat')).messages.map((m) => m.text)).toEqual([
      'while bob was away',
      'back',
    ]);
  });

  it('seals again under a fresh id when a refused key makes the rejoin take one', async () => {
    const { alice, bob, sessionId } = await encryptedPair();
    bob.store.patch(sessionId, { sessionKey: 'f'.repeat(64) });
    const sent = await bob.manager.send('chat', { text: 'as bob-2' });
    expect(sent).toMatchObject({ format: 'encrypted', rejoined: { agentId: 'bob-2' } });
    expect(bob.manager.info('chat').e2e?.key).toBe('present');
    const read = await alice.manager.poll('chat');
    // Sealed for bob-2 (the relay's attribution, in the AAD), so it opens: not tampered.
    expect(read.messages.map((m) => [m.from, m.text, m.e2eError])).toEqual([
      ['bob-2', 'as bob-2', undefined],
    ]);
  });
});
