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
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Agent } from 'undici';
import type * as CoreModule from '../src/core/index.js';
import type * as ServerModule from '../src/mcp/server.js';
import { registerFloorTools } from './floor-tools.mjs';
import { headersOf, type RawAgent, RawHttp } from './lib/http.ts';
import { killRelayChildren, startRelayChild } from './lib/relay.ts';
import { filler, importDist } from './lib/util.ts';

const rounds = Number(process.argv[2] ?? 2_000);
const many = Number(process.argv[3] ?? 1);
const { createCore, createLogger } = await importDist<typeof CoreModule>('core/index.js');
const { createServer } = await importDist<typeof ServerModule>('mcp/server.js');

const homes: string[] = [];
async function connect(server: McpServer): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(clientSide);
  return client;
}

async function ours(url: string, agentId: string) {
  const home = mkdtempSync(join(tmpdir(), 'nexus-inproc-'));
  homes.push(home);
  const core = createCore({
    config: { url, home, agentId, httpTimeoutMs: 30_000, pollIntervalMs: 100 },
    logger: createLogger(() => undefined),
  });
  const { server } = createServer(core);
  return { core, client: await connect(server) };
}

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

async function call(client: Client, name: string, args: Record<string, unknown>) {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name}: ${JSON.stringify(result.content)}`);
  return result;
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;

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
  // CPU time of this process per call (client and server; the relay is another process): a
  // machine busy with other work stretches the wall time, much less the CPU a call takes.
  const cpu = new Map<number[], number[]>();
  const time = async (into: number[], fn: () => Promise<unknown>) => {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    await fn();
    into.push((performance.now() - start) * 1000);
    const used = process.cpuUsage(cpuStart);
    const list = cpu.get(into) ?? [];
    list.push(used.user + used.system);
    cpu.set(into, list);
  };
  const warm = Math.min(200, rounds / 5);
  for (let i = 0; i < rounds + warm; i++) {
    const sink = i < warm ? { floorSend: [], floorPoll: [], send: [] } : t;
    await time(sink.floorSend, () => call(floorA, 'send_message', { session: 'floor', text }));
    await time(sink.floorPoll, () => call(floorB, 'poll_messages', { session: 'floor' }));
    await time(sink.send, () => call(a.client, 'send_message', { session: 'bench', text }));
    await time(i < warm ? [] : poll, () => call(b.client, 'poll_messages', { session: 'bench' }));
  }
  const us = (xs: number[]) => `${median(xs).toFixed(0)} µs`;
  const cpuOf = (xs: number[]) => median(cpu.get(xs) ?? []);
  console.log(
    `CPU per call: send ${cpuOf(t.send)} µs vs floor ${cpuOf(t.floorSend)} µs (${(cpuOf(t.send) / cpuOf(t.floorSend)).toFixed(2)}×); ` +
      `poll ${cpuOf(poll)} µs vs floor ${cpuOf(t.floorPoll)} µs (${(cpuOf(poll) / cpuOf(t.floorPoll)).toFixed(2)}×)`,
  );
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
      `poll of ${many}: ${(median(allMs) / 1000).toFixed(2)} ms vs raw ${(median(rawMs) / 1000).toFixed(2)} ms (${(median(allMs) / median(rawMs)).toFixed(2)}×); CPU ${(cpuOf(allMs) / 1000).toFixed(2)} ms vs ${(cpuOf(rawMs) / 1000).toFixed(2)} ms (${(cpuOf(allMs) / cpuOf(rawMs)).toFixed(2)}×)`,
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
  for (const home of homes) rmSync(home, { recursive: true, force: true });
}
