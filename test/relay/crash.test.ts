import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayProcess } from './relay-process.js';
import { RedisServer } from './stores.js';

let redis: RedisServer;
let dir: string;
const relays: RelayProcess[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
  dir = mkdtempSync(join(tmpdir(), 'nexus-crash-'));
});
afterAll(async () => {
  for (const relay of relays) await relay.kill();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function start(args: string[]): Promise<RelayProcess> {
  const relay = await RelayProcess.start(args);
  relays.push(relay);
  return relay;
}

/**
 * Sends and joins from several clients until `acknowledged` sends were answered 2xx, then kills
 * the relay while more are in flight. Returns what the relay acknowledged before it died.
 */
async function loadThenKill(relay: RelayProcess, sessionId: string, key: string) {
  const sent = new Map<number, string>();
  const joined = new Set<string>();
  let stop = false;
  let n = 0;
  const sender = async (): Promise<void> => {
    while (!stop) {
      const text = `m${n++}`;
      const reply = await relay
        .call('POST', `/v1/sessions/${sessionId}/messages`, {
          agentId: 'alice',
          sessionKey: key,
          json: { text },
        })
        .catch(() => undefined);
      if (reply?.status === 201) sent.set(Number(reply.body.cursor), text);
    }
  };
  const joiner = async (): Promise<void> => {
    while (!stop) {
      const agentId = `agent${n++}`;
      const reply = await relay
        .call('POST', `/v1/sessions/${sessionId}/join`, { agentId })
        .catch(() => undefined);
      if (reply?.status === 200) joined.add(agentId);
    }
  };
  const clients = [sender(), sender(), sender(), sender(), joiner()];
  while (sent.size < 150) await new Promise((resolve) => setImmediate(resolve));
  await relay.kill();
  stop = true;
  await Promise.all(clients);
  return { sent, joined };
}

describe.each([
  ['sqlite', () => [`--store`, `sqlite:${join(dir, 'relay.db')}`]],
  ['redis', () => ['--store', redis.url]],
] as const)('kill -9 under load [%s]', (_kind, args) => {
  it('loses no acknowledged send or join and never reuses a cursor', async () => {
    let relay = await start([...args()]);
    const created = await relay.call('PUT', '/v1/sessions', {
      json: { creatorAgentId: 'alice', maxAgents: 1000 },
    });
    const sessionId = created.body.sessionId as string;
    const key = created.body.sessionKey as string;

    for (let round = 0; round < 3; round++) {
      const { sent, joined } = await loadThenKill(relay, sessionId, key);
      relay = await start([...args()]);

      const held = await relay.allMessages(sessionId, 'alice');
      const byCursor = new Map(held.map((m) => [Number(m.cursor), m.text]));
      expect(byCursor.size).toBe(held.length);
      for (const [cursor, text] of sent) expect(byCursor.get(cursor)).toBe(text);
      const status = await relay.call('GET', `/v1/sessions/${sessionId}`);
      const agents = new Set(status.body.agents as string[]);
      for (const agentId of joined) expect(agents.has(agentId)).toBe(true);

      // The next cursor is past every one handed out before the crash.
      const next = await relay.call('POST', `/v1/sessions/${sessionId}/messages`, {
        agentId: 'alice',
        sessionKey: key,
        json: { text: 'after' },
      });
      const highest = Math.max(...sent.keys(), ...byCursor.keys());
      expect(Number(next.body.cursor)).toBe(highest + 1);
    }
    await relay.kill();
  });
});
