/**
 * Row 1 without stdio, for attributing cost: our MCP server (createServer over createCore from
 * dist/) and the floor server's two tools, each driven by the SDK `Client` over the SDK's
 * `InMemoryTransport` in this process, interleaved in one loop against a relay child. Per-call
 * CPU time is what a busy machine cannot blur much, so this is the loop to run under
 * `node --cpu-prof` and read with bench/profile-summary.ts.
 *
 *   node --experimental-strip-types bench/in-process.ts [rounds] [sessions]
 *
 * `sessions` (default 1) also runs a poll of that many sessions, one new message each, against
 * the same polls made by the floor's undici agent at concurrency 8 (row 8a, in process).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Agent } from 'undici';
import { registerFloorTools } from './floor-tools.mjs';
import { headersOf, type RawAgent, RawHttp } from './lib/http.ts';
import {
  call,
  connect,
  median,
  ours,
  removeHomes,
  time,
  us,
  warmRounds,
} from './lib/in-process.ts';
import { killRelayChildren, startRelayChild } from './lib/relay.ts';
import { filler } from './lib/util.ts';

const rounds = Number(process.argv[2] ?? 2_000);
const many = Number(process.argv[3] ?? 1);

function floor(url: string, agent: RawAgent): Promise<Client> {
  const pool = new Agent({ keepAliveTimeout: 30_000 });
  const request = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const response = await pool.request({
      origin: url,
      method,
      path,
      headers: {
        ...headersOf(agent),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return (await response.body.json()) as Record<string, unknown>;
  };
  const server = new McpServer({ name: 'floor', version: '1.0.0' });
  registerFloorTools(server, agent.sessionId, request);
  return connect(server);
}

const relay = await startRelayChild();
try {
  const http = new RawHttp(relay.url);
  const a = await ours(relay.url, 'in-a');
  const b = await ours(relay.url, 'in-b');
  const created = (await call(a.client, 'create_session', { alias: 'bench', pair: true }))
    .structuredContent as { pairing: { code: string } };
  await call(b.client, 'claim_pairing_code', { code: created.pairing.code, alias: 'bench' });
  const fa = await http.createSession('floor-a');
  const fb = await http.join(fa.sessionId, 'floor-b');
  const floorA = await floor(relay.url, fa);
  const floorB = await floor(relay.url, fb);
  const text = filler(100);
  const t = { floorSend: [] as number[], floorPoll: [] as number[], send: [] as number[] };
  const poll: number[] = [];
  const warm = warmRounds(rounds);
  for (let i = 0; i < rounds + warm; i++) {
    const sink = i < warm ? { floorSend: [], floorPoll: [], send: [] } : t;
    await time(sink.floorSend, () => call(floorA, 'send_message', { session: 'floor', text }));
    await time(sink.floorPoll, () => call(floorB, 'poll_messages', { session: 'floor' }));
    await time(sink.send, () => call(a.client, 'send_message', { session: 'bench', text }));
    await time(i < warm ? [] : poll, () => call(b.client, 'poll_messages', { session: 'bench' }));
  }
  console.log(
    `send ${us(t.send)} vs floor ${us(t.floorSend)} (${(median(t.send) / median(t.floorSend)).toFixed(2)}×); ` +
      `poll ${us(poll)} vs floor ${us(t.floorPoll)} (${(median(poll) / median(t.floorPoll)).toFixed(2)}×)`,
  );
  if (many > 1) {
    const c = await ours(relay.url, 'in-c');
    const agents: RawAgent[] = [];
    for (let i = 0; i < many; i++) {
      const made = (await call(c.client, 'create_session', { alias: `s${i}`, pair: true }))
        .structuredContent as { pairing: { code: string } };
      await call(b.client, 'claim_pairing_code', { code: made.pairing.code, alias: `c${i}` });
      const raw = await http.createSession(`raw-${i}`);
      agents.push(raw);
    }
    const pool = new Agent({ keepAliveTimeout: 30_000 });
    const cursors = agents.map(() => '0');
    const allMs: number[] = [];
    const rawMs: number[] = [];
    const reps = Math.max(5, Math.floor(rounds / 100));
    for (let r = 0; r < reps + 2; r++) {
      for (let i = 0; i < many; i++) {
        await call(b.client, 'send_message', { session: `c${i}`, text });
        await http.send(agents[i] as RawAgent, text);
      }
      await time(r < 2 ? [] : rawMs, async () => {
        let next = 0;
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            while (next < many) {
              const i = next++;
              const agent = agents[i] as RawAgent;
              const response = await pool.request({
                origin: relay.url,
                method: 'GET',
                path: `/v1/sessions/${agent.sessionId}/messages?after=${cursors[i]}`,
                headers: headersOf(agent),
              });
              const body = (await response.body.json()) as { nextCursor: string };
              cursors[i] = body.nextCursor;
            }
          }),
        );
      });
      await time(r < 2 ? [] : allMs, () => call(c.client, 'poll_messages', {}));
    }
    await call(b.client, 'send_message', { session: 'c0', text });
    const sample = JSON.stringify(await call(c.client, 'poll_messages', {}));
    console.log(
      `one message: answer ${JSON.stringify(await call(b.client, 'poll_messages', { session: 'bench' })).length} bytes; poll of ${many} (1 message): ${sample.length} bytes`,
    );
    console.log(
      `poll of ${many}: ${(median(allMs) / 1000).toFixed(2)} ms vs raw ${(median(rawMs) / 1000).toFixed(2)} ms (${(median(allMs) / median(rawMs)).toFixed(2)}×)`,
    );
    await c.core.close();
    await pool.close();
  }
  await a.core.close();
  await b.core.close();
  await http.close();
} finally {
  await relay.close();
  killRelayChildren();
  removeHomes();
}
