/**
 * E2E v1 over our real relay, through the recording proxy acting as a hostile relay: what
 * crosses the wire, and what a receiver makes of tampered polls. The protocol layer only; the
 * same checks through the MCP tools come with the wiring.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  E2eKey,
  type E2ePayload,
  newReplayGuard,
  type Received,
  type ReplayGuard,
  receiveMessage,
  sealEnvelope,
} from '../../src/protocol/e2e/index.js';
import { e2eKeyMaterial, findKeyMaterial, spellings } from '../helpers/e2e-secrets.js';
import * as hostile from '../helpers/recording-proxy.js';
import {
  type PollBody,
  RecordingProxy,
  type WireMessageShape,
} from '../helpers/recording-proxy.js';
import { TestRelay } from '../relay/helpers.js';

interface Agent {
  agentId: string;
  sessionKey: string;
  seq: number;
}

async function encryptedSession(proxyUrl: string, relay: TestRelay, key: E2eKey) {
  const { sessionId, key: aliceKey } = await relay.sessionWithCreator('alice');
  const bob = await relay.join(sessionId, 'bob');
  const agents: Record<string, Agent> = {
    alice: { agentId: 'alice', sessionKey: aliceKey, seq: 0 },
    bob: { agentId: 'bob', sessionKey: bob.sessionKey, seq: 0 },
  };
  let guard: ReplayGuard = newReplayGuard();
  const headers = (agent: Agent) => ({
    'X-Agent-Id': agent.agentId,
    'X-Session-Key': agent.sessionKey,
  });
  return {
    sessionId,
    async send(from: string, payload: E2ePayload): Promise<void> {
      const agent = agents[from] as Agent;
      agent.seq += 1;
      const text = sealEnvelope({
        key,
        sessionId,
        senderAgentId: from,
        kind: 'message',
        seq: agent.seq,
        payload,
      });
      const response = await fetch(`${proxyUrl}/v1/sessions/${sessionId}/messages`, {
        method: 'POST',
        headers: { ...headers(agent), 'Content-Type': 'application/json' },
        body: JSON.stringify({ text }),
      });
      expect(response.status).toBe(201);
    },
    /** Bob polls through the proxy and decrypts, keeping his guard like the store would. */
    async receive(after: string): Promise<{ poll: PollBody; received: Received[] }> {
      const response = await fetch(`${proxyUrl}/v1/sessions/${sessionId}/messages?after=${after}`, {
        headers: headers(agents.bob as Agent),
      });
      const poll = (await response.json()) as PollBody;
      const received = poll.messages.map((message) => {
        const result = receiveMessage({
          body: { text: message.text, ...(message.json !== undefined && { json: message.json }) },
          cursor: message.cursor,
          sessionId,
          senderAgentId: message.agentId,
          key,
          guard,
        });
        guard = result.guard;
        return result.received;
      });
      return { poll, received };
    },
  };
}

async function setup() {
  const relay = await TestRelay.use();
  const proxy = await RecordingProxy.use(relay.url, { spreadCursors: true });
  const key = E2eKey.generate();
  return { relay, proxy, key, session: await encryptedSession(proxy.url, relay, key) };
}

const texts = (received: Received[]) =>
  received.map((r) =>
    r.encrypted && r.decrypted ? r.payload.text : r.encrypted ? r.error : 'plain',
  );

describe('E2E v1 over the relay', () => {
  it('puts only envelopes on the wire and decrypts them on the other side', async () => {
    const { proxy, session } = await setup();
    await session.send('alice', { text: 'meet at the blue door', json: { pin: 'violet-42' } });
    const { received } = await session.receive('0');
    expect(received).toEqual([
      {
        encrypted: true,
        decrypted: true,
        kind: 'message',
        seq: 1,
        payload: { text: 'meet at the blue door', json: { pin: 'violet-42' } },
      },
    ]);
    const wire = proxy.transcript();
    expect(wire).not.toContain('blue door');
    expect(wire).not.toContain('violet-42');
    for (const { body } of proxy.sentBodies()) {
      expect(Object.keys(body as object)).toEqual(['text']);
      expect((body as { text: string }).text).toMatch(/^nxe1\.[a-z2-7]+$/);
    }
  });

  it('turns a flipped character into tampered or malformed, never text', async () => {
    const { proxy, session } = await setup();
    await session.send('alice', { text: 'one' });
    await session.send('alice', { text: 'two' });
    proxy.tamperNextPoll((poll) => hostile.changeFirst(poll, 'nxe1.', (m) => hostile.flipChar(m)));
    const { received } = await session.receive('0');
    expect(texts(received)[0]).toMatch(/^(tampered|malformed)$/);
    expect(texts(received)[1]).toBe('two');
  });

  it('flags an envelope re-served under a new cursor as replayed, and a re-read as fine', async () => {
    const { proxy, session } = await setup();
    await session.send('alice', { text: 'pay 5 coins' });
    const first = await session.receive('0');
    const original = proxy.served[0] as WireMessageShape;
    await session.send('alice', { text: 'done' });
    proxy.tamperNextPoll((poll) => hostile.appendUnderNewCursor(poll, original));
    const second = await session.receive(first.poll.nextCursor);
    expect(texts(second.received)).toEqual(['done', 'replayed']);
    // Reading the whole session again is not a replay of anything.
    expect(texts((await session.receive('0')).received)).toEqual(['pay 5 coins', 'done']);
  });

  it('rejects a message re-attributed to another agent', async () => {
    const { proxy, session } = await setup();
    await session.send('alice', { text: 'I approve' });
    proxy.tamperNextPoll((poll) =>
      hostile.changeFirst(poll, 'nxe1.', (m) => hostile.reattribute(m, 'bob')),
    );
    expect(texts((await session.receive('0')).received)).toEqual(['tampered']);
  });

  it('rejects envelopes moved in from another session, with its own key or with ours', async () => {
    const { relay, proxy, key, session } = await setup();
    const otherKey = await encryptedSession(relay.url, relay, E2eKey.generate());
    const sameKey = await encryptedSession(relay.url, relay, key);
    await otherKey.send('alice', { text: 'elsewhere' });
    await sameKey.send('alice', { text: 'same key, other session' });
    const [foreign] = (await otherKey.receive('0')).poll.messages;
    const [moved] = (await sameKey.receive('0')).poll.messages;
    await session.send('alice', { text: 'here' });
    proxy.tamperNextPoll((poll) =>
      hostile.appendUnderNewCursor(
        hostile.appendUnderNewCursor(poll, foreign as WireMessageShape),
        moved as WireMessageShape,
      ),
    );
    expect(texts((await session.receive('0')).received)).toEqual(['here', 'wrong_key', 'tampered']);
  });
});

describe('key material on the wire', () => {
  it('is absent: S, K_root and every message key in any spelling', async () => {
    const { proxy, key, session } = await setup();
    await session.send('alice', { text: 'a' });
    await session.send('alice', { text: 'b'.repeat(3000) });
    await session.receive('0');
    const envelopes = proxy.sentBodies().map(({ body }) => (body as { text: string }).text);
    const material = e2eKeyMaterial(key, envelopes);
    expect(material).toHaveLength(4);
    expect(findKeyMaterial(proxy.transcript(), material)).toBeUndefined();
    // The scan does find a key when it is there.
    const leaked = `${proxy.transcript()} ${spellings(material[3] as Uint8Array)[2]?.toUpperCase()}`;
    expect(findKeyMaterial(leaked, material)).toBeDefined();
  });
});

describe("envelopes and our relay's redaction", () => {
  it('come back unchanged, 100 B to 16 KiB, whatever secrets the plaintext held', async () => {
    const relay = await TestRelay.use();
    const { sessionId, key: sessionKey } = await relay.sessionWithCreator('alice');
    const key = E2eKey.generate();
    // Plaintexts full of what the relay redacts, so nothing but the envelope's alphabet protects it.
    const secretish = fc.constantFrom(
      `ghp_${'a1B2c3D4e5'.repeat(4)}`,
      'password=hunter2hunter2',
      'AKIAABCDEFGHIJKLMNOP',
      'Bearer abcdefghijklmnop0123456789',
      ' ',
    );
    const plaintexts = fc.sample(
      fc
        .tuple(fc.integer({ min: 100, max: 16_000 }), fc.array(secretish, { maxLength: 20 }))
        .map(([size, secrets]) => `${secrets.join(' ')} ${'x'.repeat(size)}`.slice(0, size)),
      { numRuns: 25, seed: 15 },
    );
    const sent: string[] = [];
    for (const [i, text] of plaintexts.entries()) {
      const envelope = sealEnvelope({
        key,
        sessionId,
        senderAgentId: 'alice',
        kind: 'message',
        seq: i + 1,
        payload: { text },
      });
      const reply = await relay.send(sessionId, 'alice', { text: envelope }, sessionKey);
      expect(reply.redacted ?? 0).toBe(0);
      sent.push(envelope);
    }
    const polled = await relay.poll(sessionId, 'alice', `?after=0&limit=${sent.length}`);
    expect(polled.messages.map((message) => message.text)).toEqual(sent);
  });
});
