/**
 * End-to-end encryption and client-side redaction through the MCP tools: two (and three) built
 * servers talk through the recording proxy in front of our relay, which records everything
 * that crosses the wire and tampers with polls like a hostile relay would.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  base32Decode,
  E2eKey,
  ENVELOPE_PREFIX,
  splitE2eLink,
} from '../../src/protocol/e2e/index.js';
import { hasUnsafeCharacters } from '../../src/protocol/index.js';
import { e2eKeyMaterial, findKeyMaterial } from '../helpers/e2e-secrets.js';
import { expectNoSecretsSeen, type Harness, startServer, textOf } from '../helpers/mcp.js';
import {
  appendUnderNewCursor,
  changeFirst,
  flipChar,
  RecordingProxy,
  reattribute,
  type WireMessageShape,
} from '../helpers/recording-proxy.js';
import { useRelay } from '../helpers/relay.js';

interface Message {
  from: string;
  cursor: string;
  text: string;
  json?: unknown;
  own?: boolean;
  greeting?: boolean;
  encrypted?: boolean;
  decrypted?: boolean;
  e2e_error?: string;
  gap_before?: number;
  warning?: string;
}
interface Messages {
  messages: Message[];
  sessions: { session: string; cursor: string }[];
}
interface E2eOut {
  enabled: boolean;
  version: number;
  key: 'present' | 'missing';
  confirmed_members: string[];
}
interface Created {
  session: { session: string };
  pairing: { code: string; link: string; share_text: string };
  e2e?: E2eOut;
}
interface Joined {
  session: { session: string };
  greeting?: { from: string; text: string };
  e2e?: E2eOut;
  key_attached?: boolean;
  next: string;
}

const GITHUB_TOKEN = `ghp_${'a1B2c3D4e5'.repeat(4)}`;
const ENVELOPE_BODY = /^\{"text":"nxe1\.[a-z2-7]+"\}$/;
/** A run of base32 as long as this is an envelope (or a key) leaking into model text. */
const BASE32_RUN = /[a-z2-7]{40,}/;

/** The stored `S` of every encrypted session in a server's store. */
function storedKeys(home: string): E2eKey[] {
  const data = JSON.parse(readFileSync(join(home, 'store.json'), 'utf8')) as {
    sessions: Record<string, { e2e?: { secret?: string } }>;
  };
  return Object.values(data.sessions).flatMap((session) =>
    session.e2e?.secret ? [E2eKey.fromSecret(Buffer.from(session.e2e.secret, 'base64url'))] : [],
  );
}

/** The envelope's `seq` (header bytes 6–14). */
function seqOf(text: string): bigint {
  const raw = base32Decode(text.slice(ENVELOPE_PREFIX.length));
  if (!raw) throw new Error('not an envelope');
  return Buffer.from(raw).readBigUInt64BE(6);
}

/** Everything servers said (results, logs, stderr), with the pairing links themselves cut out. */
function seenWithoutLinks(servers: readonly Harness[], links: readonly string[]): string {
  let corpus = JSON.stringify(servers.map((server) => [server.seen, server.stderr]));
  for (const link of links) {
    corpus = corpus.split(link).join('<link>');
    corpus = corpus.split(JSON.stringify(link).slice(1, -1)).join('<link>');
  }
  return corpus;
}

describe('MCP: an end-to-end encrypted conversation through a recording relay', async () => {
  const relay = await useRelay();
  const proxy = await RecordingProxy.use(relay.url, { spreadCursors: true });
  const alice = await startServer({ relayUrl: proxy.url, agentId: 'alice' });
  const bob = await startServer({ relayUrl: proxy.url, agentId: 'bob' });
  const carol = await startServer({ relayUrl: proxy.url, agentId: 'carol' });
  const links: string[] = [];
  /** The relay names itself in links: point them at the proxy, so every agent is recorded. */
  const viaProxy = (link: string) => {
    expect(link.startsWith(relay.url)).toBe(true);
    return proxy.url + link.slice(relay.url.length);
  };
  const GREETING = 'Hello bob, the greeting words are GREET-PLAIN-77.';

  const created = await alice.ok<Created>('create_session', {
    e2e: true,
    greeting: GREETING,
    alias: 'secret',
  });
  links.push(created.pairing.link);

  it('creates a session whose link carries the key in its fragment, and only there', () => {
    expect(created.e2e).toEqual({
      enabled: true,
      version: 1,
      key: 'present',
      confirmed_members: [],
    });
    const { link, key } = splitE2eLink(created.pairing.link);
    expect(key).toBeDefined();
    expect(created.pairing.link.startsWith(`${link}#e2e=1.`)).toBe(true);
    // The relay's greeting field holds only the fixed notice.
    expect(proxy.transcript()).not.toContain('GREET-PLAIN-77');
  });

  it('claims with the full link: the key is stored, the greeting decrypts, the hello is sent', async () => {
    const joined = await bob.ok<Joined>('claim_pairing_code', {
      code: viaProxy(created.pairing.link),
      alias: 'secret',
    });
    expect(joined.e2e?.key).toBe('present');
    expect(joined.greeting).toEqual({ from: 'alice', text: GREETING });
    const [bobKey] = storedKeys(bob.home);
    const [aliceKey] = storedKeys(alice.home);
    expect(bobKey?.secret().equals(aliceKey?.secret() ?? Buffer.alloc(0))).toBe(true);
  });

  it('carries text and json only inside envelopes, and hellos never show', async () => {
    // Bob's hello is hidden: alice's poll shows nothing new but its own greeting.
    const first = await alice.ok<Messages>('poll_messages', { session: 'secret' });
    expect(first.messages.every((message) => message.own)).toBe(true);
    await bob.ok('send_message', {
      session: 'secret',
      text: 'The meeting point is PLAIN-WORDS-42.',
      json: { plan: 'JSON-VALUE-99', steps: [1, 2] },
    });
    const read = await alice.ok<Messages>('poll_messages', { session: 'secret' });
    expect(read.messages).toHaveLength(1);
    expect(read.messages[0]).toMatchObject({
      from: 'bob',
      text: 'The meeting point is PLAIN-WORDS-42.',
      json: { plan: 'JSON-VALUE-99', steps: [1, 2] },
      encrypted: true,
      decrypted: true,
    });
    const status = await alice.ok<{ e2e: E2eOut }>('get_session_status', { session: 'secret' });
    expect(status.e2e).toMatchObject({ enabled: true, key: 'present' });
    expect(status.e2e.confirmed_members).toContain('bob');
    const transcript = await alice.read('nexus://sessions/secret');
    expect(transcript).toContain('PLAIN-WORDS-42');
    expect(transcript).not.toContain('nxe1.');
    const list = await bob.ok<{ sessions: { e2e?: E2eOut }[] }>('list_sessions');
    expect(list.sessions[0]?.e2e?.key).toBe('present');
  });

  it('runs decrypted text through the sanitiser like any other', async () => {
    await bob.ok('send_message', {
      session: 'secret',
      text: 'before\u202Eafter\u001b[2J\nnext line',
      json: { 'key\u200B': 'value\u0007' },
    });
    const read = await alice.call('poll_messages', { session: 'secret' });
    const raw = JSON.stringify(read);
    const shown = (read.structuredContent as unknown as Messages).messages.at(-1);
    expect(shown?.decrypted).toBe(true);
    expect(shown?.text).toContain('before\\u202Eafter');
    for (const char of ['\u202e', '\u200b']) expect(raw).not.toContain(char);
    for (const text of [
      textOf(read),
      shown?.text ?? '',
      ...Object.entries(shown?.json ?? {}).flat(),
    ])
      expect(hasUnsafeCharacters(String(text))).toBe(false);
  });

  it('puts no plaintext, greeting, json value or key on the wire', () => {
    const wire = proxy.transcript();
    for (const words of ['GREET-PLAIN-77', 'PLAIN-WORDS-42', 'JSON-VALUE-99', 'e2e=1.', '#e2e']) {
      expect(wire).not.toContain(words);
    }
    for (const key of storedKeys(alice.home)) {
      const envelopes = proxy.sentBodies().map(({ body }) => (body as { text: string }).text);
      expect(findKeyMaterial(wire, e2eKeyMaterial(key, envelopes))).toBeUndefined();
    }
    const sent = proxy.exchanges.filter(
      (x) => x.method === 'POST' && /\/messages$/.test(x.url.split('?')[0] ?? ''),
    );
    expect(sent.length).toBeGreaterThanOrEqual(3); // greeting, hello, message
    for (const exchange of sent) expect(exchange.requestBody).toMatch(ENVELOPE_BODY);
    for (const exchange of proxy.exchanges) {
      expect(exchange.url).not.toContain('e2e');
      expect(JSON.stringify(exchange.requestHeaders)).not.toContain('e2e=');
    }
  });

  it('shows tampered, re-attributed, replayed and foreign envelopes as placeholders only', async () => {
    const send = (text: string) => bob.ok('send_message', { session: 'secret', text });
    const poll = () => alice.ok<Messages>('poll_messages', { session: 'secret' });

    await send('TAMPER-ONE words');
    proxy.tamperNextPoll((body) => changeFirst(body, 'nxe1.', (m) => flipChar(m)));
    const flipped = await poll();
    expect(flipped.messages[0]?.e2e_error).toMatch(/^(tampered|malformed)$/);

    await send('REPLAY-TWO words');
    let original: WireMessageShape | undefined;
    proxy.tamperNextPoll((body) => {
      original = body.messages.find((m) => m.text.startsWith('nxe1.'));
      return original ? appendUnderNewCursor(body, original) : body;
    });
    const replayed = await poll();
    expect(replayed.messages.map((m) => m.e2e_error ?? m.text)).toEqual([
      'REPLAY-TWO words',
      'replayed',
    ]);

    await send('MOVED-THREE words');
    proxy.tamperNextPoll((body) => changeFirst(body, 'nxe1.', (m) => reattribute(m, 'mallory')));
    const moved = await poll();
    expect(moved.messages[0]).toMatchObject({ from: 'mallory', e2e_error: 'tampered' });

    // An envelope from another encrypted session, served here under a new cursor.
    const other = await alice.ok<Created>('create_session', { e2e: true, pair: true });
    links.push(other.pairing.link);
    await alice.ok('send_message', { session: other.session.session, text: 'FOREIGN-FOUR' });
    const foreign = proxy.sentBodies().at(-1)?.body as { text: string };
    await send('after the foreign one');
    proxy.tamperNextPoll((body) =>
      appendUnderNewCursor(body, { id: 'x', agentId: 'alice', cursor: '0', text: foreign.text }),
    );
    const injected = await poll();
    expect(injected.messages.map((m) => m.e2e_error ?? 'ok')).toEqual(['ok', 'wrong_key']);

    for (const result of [flipped, replayed, moved, injected]) {
      const failed = result.messages.filter((m) => m.e2e_error);
      expect(failed.length).toBeGreaterThan(0);
      for (const message of failed) {
        expect(message.decrypted).toBe(false);
        expect(message.text).toMatch(/^\[encrypted message not shown: /);
        expect(message.text).not.toMatch(/TAMPER|REPLAY|MOVED|FOREIGN|nxe1/);
        expect(message.text).not.toMatch(BASE32_RUN);
      }
    }
  });

  it('refuses to send a stored key or a keyed link, and redacts tokens before they leave', async () => {
    const [key] = storedKeys(bob.home);
    const secret = key?.secret() ?? Buffer.alloc(32);
    for (const text of [
      `here: ${secret.toString('hex')}`,
      `here: ${secret.toString('base64url')}`,
      `join me: ${created.pairing.link}`,
    ]) {
      const refused = await bob.fail('send_message', { session: 'secret', text });
      expect(refused).toMatch(/^Error secret_in_message: /);
    }
    const before = proxy.exchanges.length;
    const sent = await bob.ok<{ redacted: number; format: string }>('send_message', {
      session: 'secret',
      text: `my token is ${GITHUB_TOKEN}`,
    });
    expect(sent).toMatchObject({ format: 'encrypted' });
    expect(sent.redacted).toBeGreaterThanOrEqual(1);
    const got = await alice.ok<Messages>('poll_messages', { session: 'secret' });
    expect(got.messages.at(-1)?.text).toBe('my token is [REDACTED:github_token]');
    expect(
      proxy.exchanges
        .slice(before)
        .map((x) => x.requestBody)
        .join('\n'),
    ).not.toContain('ghp_');
  });

  it('gives a member without the key placeholders, then decrypts once the full link comes', async () => {
    const pairing = await alice.ok<Created['pairing']>('create_pairing_code', {
      session: 'secret',
    });
    links.push(pairing.link);
    const bare = splitE2eLink(viaProxy(pairing.link)).link;
    const joined = await carol.ok<Joined>('claim_pairing_code', { code: bare, alias: 'nokey' });
    expect(joined.e2e?.key).toBe('missing');
    expect(joined.greeting).toBeUndefined();
    expect(joined.next).toMatch(/full link/);
    const refused = await carol.fail('send_message', { session: 'nokey', text: 'hi' });
    expect(refused).toMatch(/^Error e2e_key_missing: /);

    const blind = await carol.ok<Messages>('poll_messages', { session: 'nokey' });
    expect(blind.messages.length).toBeGreaterThan(3);
    for (const message of blind.messages) {
      expect(message).toMatchObject({ encrypted: true, decrypted: false, e2e_error: 'no_key' });
      expect(message.text).toMatch(/full link/);
      expect(message.text).not.toMatch(BASE32_RUN);
    }

    const claimsBefore = proxy.exchanges.filter((x) => x.method === 'POST').length;
    // Carol's hello is never shown, so it does not end alice's wait.
    const waiting = alice.ok<Messages & { timed_out: boolean }>('wait_for_messages', {
      session: 'secret',
      timeout_seconds: 1,
    });
    const attached = await carol.ok<Joined>('claim_pairing_code', {
      code: viaProxy(pairing.link),
    });
    expect(await waiting).toMatchObject({ timed_out: true, messages: [] });
    expect(attached).toMatchObject({ key_attached: true, e2e: { key: 'present' } });
    expect(attached.greeting).toEqual({ from: 'alice', text: GREETING });
    // Only the hello went out: the relay was not asked to claim again.
    const posts = proxy.exchanges.filter((x) => x.method === 'POST').slice(claimsBefore);
    expect(posts.map((x) => x.url.split('?')[0])).toEqual([
      expect.stringMatching(/^\/v1\/sessions\/[^/]+\/messages$/),
    ]);

    const reread = await carol.ok<Messages>('poll_messages', { session: 'nokey', after: 0 });
    const texts = reread.messages.map((m) => m.text);
    expect(texts).toContain('The meeting point is PLAIN-WORDS-42.');
    expect(texts).toContain(GREETING);
    expect(textOf(await carol.call('get_session_status', { session: 'nokey' }))).toMatch(
      /End-to-end encrypted \(v1\)/,
    );
  });
  it('shows no key material anywhere but the link fields', () => {
    const corpus = seenWithoutLinks([alice, bob, carol], [...links, ...links.map(viaProxy)]);
    for (const key of [
      ...storedKeys(alice.home),
      ...storedKeys(bob.home),
      ...storedKeys(carol.home),
    ]) {
      const envelopes = proxy.sentBodies().map(({ body }) => (body as { text: string }).text);
      expect(findKeyMaterial(corpus, e2eKeyMaterial(key, envelopes))).toBeUndefined();
    }
    expectNoSecretsSeen([alice, bob, carol]);
  });
});

describe('MCP: one agent in two processes', async () => {
  const relay = await useRelay();
  const proxy = await RecordingProxy.use(relay.url);
  const alice = await startServer({ relayUrl: proxy.url, agentId: 'alice' });
  const twin = await startServer({ relayUrl: proxy.url, agentId: 'alice', home: alice.home });

  it('never seals two envelopes with one seq', async () => {
    await alice.ok('create_session', { e2e: true, alias: 'twins', greeting: 'hi' });
    const sends = Array.from({ length: 8 }, (_, i) =>
      (i % 2 ? alice : twin).ok('send_message', { session: 'twins', text: `message ${i}` }),
    );
    await Promise.all(sends);
    const seqs = proxy
      .sentBodies()
      .map(({ body }) => seqOf((body as { text: string }).text))
      .sort((a, b) => (a < b ? -1 : 1));
    expect(seqs).toEqual(Array.from({ length: 9 }, (_, i) => BigInt(i + 1)));
  });
});

describe('MCP: client-side redaction in a plain session', async () => {
  const relay = await useRelay();
  const proxy = await RecordingProxy.use(relay.url);
  const alice = await startServer({ relayUrl: proxy.url, agentId: 'alice' });
  const bob = await startServer({ relayUrl: proxy.url, agentId: 'bob' });

  it('keeps a token off the wire: the peer sees [REDACTED:…]', async () => {
    const created = await alice.ok<Created>('create_session', { alias: 'plain' });
    expect(created.e2e).toBeUndefined();
    const link = created.pairing.link.replace(relay.url, proxy.url);
    await bob.ok('claim_pairing_code', { code: link, alias: 'plain' });
    const sent = await bob.ok<{ redacted: number; format: string }>('send_message', {
      session: 'plain',
      text: `token ${GITHUB_TOKEN}`,
      json: { token: GITHUB_TOKEN },
    });
    expect(sent.redacted).toBeGreaterThanOrEqual(2);
    const read = await alice.ok<Messages>('poll_messages', { session: 'plain' });
    const last = read.messages.at(-1);
    expect(last?.text).toBe('token [REDACTED:github_token]');
    expect(JSON.stringify(last?.json)).toMatch(/^\{"token":"\[REDACTED:[a-z_]+\]"\}$/);
    expect(last?.encrypted).toBeUndefined();
    expect(proxy.transcript()).not.toContain('ghp_');
  });
});

describe('MCP: NEXUS_E2E=on', async () => {
  const relay = await useRelay();
  const dana = await startServer({
    relayUrl: relay.url,
    agentId: 'dana',
    env: { NEXUS_E2E: 'on' },
  });

  it('makes new sessions encrypted unless the call says e2e: false', async () => {
    const sealed = await dana.ok<Created>('create_session', { alias: 'by-default' });
    expect(sealed.e2e?.key).toBe('present');
    expect(sealed.pairing.link).toMatch(/#e2e=1\.[A-Za-z0-9_-]{43}$/);
    const plain = await dana.ok<Created>('create_session', { alias: 'plain', e2e: false });
    expect(plain.e2e).toBeUndefined();
    expect(plain.pairing.link).not.toContain('#');
  });
});
