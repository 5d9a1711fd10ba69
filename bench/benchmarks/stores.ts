/**
 * 10: the relay's stores under load. Sends and polls per second for memory, SQLite and Redis
 * (one process, and two processes sharing the load), each against a minimal Hono app on
 * @hono/node-server answering a fixed JSON body under the same autocannon load in the same run;
 * long-poll wake-up across two processes on one Redis; /health p99 while four clients poll a
 * session holding 1,000 × 32 KB messages.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { RedisServer } from '../../test/relay/redis-server.ts';
import { headersOf, type RawAgent, RawHttp } from '../lib/http.ts';
import { type RelayChild, startRelayChild } from '../lib/relay.ts';
import {
  type Benchmark,
  fmtBytes,
  fmtCount,
  fmtLatency,
  fmtRatio,
  type Row,
} from '../lib/report.ts';
import { Samples } from '../lib/stats.ts';
import { bounded, filler, ROOT, withTimeout } from '../lib/util.ts';

const CONNECTIONS = 64;

interface Load {
  rps: number;
  total: number;
  p99: number;
  bad: number;
}

async function load(urls: string[], options: Omit<autocannon.Options, 'url'>, seconds: number) {
  // Two processes: half the connections on each, at the same time.
  const results = await Promise.all(
    urls.map((url) =>
      autocannon({
        ...options,
        url,
        connections: Math.ceil(CONNECTIONS / urls.length),
        duration: seconds,
        timeout: 10,
      }),
    ),
  );
  return {
    rps: results.reduce((sum, r) => sum + r.requests.total / r.duration, 0),
    total: results.reduce((sum, r) => sum + r.requests.total, 0),
    p99: Math.max(...results.map((r) => r.latency.p99)),
    bad: results.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0),
  } satisfies Load;
}

async function startFloor(): Promise<{ url: string; close(): void }> {
  const child = fork(join(ROOT, 'bench', 'hono-floor-child.ts'), [], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const url = await withTimeout(
    'hono floor start',
    new Promise<string>((resolve) =>
      child.once('message', (m: { result: { url: string } }) => resolve(m.result.url)),
    ),
    15_000,
  );
  return { url, close: () => child.kill('SIGKILL') };
}

interface Setup {
  name: string;
  target: number;
  relays: RelayChild[];
}

async function measure(setup: Setup, seconds: number) {
  const [first] = setup.relays;
  if (!first) throw new Error('no relay');
  const http = new RawHttp(first.url);
  try {
    const agent = await http.createSession('load');
    const path = `/v1/sessions/${agent.sessionId}/messages`;
    const urls = setup.relays.map((relay) => `${relay.url}${path}`);
    const send = {
      method: 'POST' as const,
      headers: {
        'content-type': 'application/json',
        'x-agent-id': agent.agentId,
        'x-session-key': agent.sessionKey,
      },
      body: JSON.stringify({ text: filler(100) }),
    };
    await load(urls, send, 1);
    const sends = await load(urls, send, seconds);
    const { cursor } = await http.send(agent, filler(100));
    const after = String(Number(cursor) - 5);
    const polls = await load(
      urls.map((url) => `${url}?after=${after}`),
      { headers: { 'x-agent-id': agent.agentId } },
      seconds,
    );
    return { sends, polls };
  } finally {
    await http.close();
  }
}

/** A send through `a` while `b` holds a long-poll: time until b's poll answers. */
async function crossProcessWake(a: RelayChild, b: RelayChild, count: number) {
  const onA = new RawHttp(a.url);
  const onB = new RawHttp(b.url);
  const samples = new Samples();
  try {
    const alice = await onA.createSession('alice');
    const bob: RawAgent = await onB.join(alice.sessionId, 'bob');
    let after = '0';
    await bounded({ count, maxMs: 30_000 }, async (i) => {
      const held = onB.poll(bob, after, 10_000);
      // Let the poll reach B and be held before the send (B's stats would add a round trip).
      await new Promise((resolve) => setTimeout(resolve, 5));
      const start = performance.now();
      await onA.send(alice, `wake ${i}`);
      const polled = await held;
      samples.record(performance.now() - start);
      after = polled.nextCursor;
    });
    return samples.summary();
  } finally {
    samples.destroy();
    await onA.close();
    await onB.close();
  }
}

/** /health latency, one request at a time, while four clients poll 1,000 × 32 KB messages. */
async function healthDuringBigPolls(seconds: number) {
  const relay = await startRelayChild({ maxMessageBytes: 40_000 });
  const http = new RawHttp(relay.url);
  const samples = new Samples();
  try {
    const agent = await http.createSession('big');
    await relay.call('fill', {
      sessionId: agent.sessionId,
      agentId: agent.agentId,
      sessionKey: agent.sessionKey,
      count: 1_000,
      chars: 32_000,
    });
    // In a worker thread: reading 1 MiB answers on this thread would delay the /health loop
    // below and blame the relay for it.
    const polling = autocannon({
      url: `${relay.url}/v1/sessions/${agent.sessionId}/messages?after=0&limit=1000`,
      headers: { 'x-agent-id': agent.agentId },
      workers: 1,
      connections: 4,
      duration: seconds,
      timeout: 30,
    });
    const health = new RawHttp(relay.url);
    const deadline = performance.now() + seconds * 1000 - 200;
    while (performance.now() < deadline) {
      const start = performance.now();
      await health.request('GET', '/health');
      samples.record(performance.now() - start);
    }
    const polled = await polling;
    await health.close();
    return {
      health: samples.summary(),
      pollsPerS: polled.requests.total / polled.duration,
      pollBytes: polled.throughput.total / Math.max(1, polled.requests.total),
    };
  } finally {
    samples.destroy();
    await http.close();
    await relay.close();
  }
}

/**
 * Relay memory per wire byte for the payload that cost 29× before: `json` of many small
 * objects (9,000 `{}` per message, under the 10,000-value cap), held in the memory store.
 */
async function memoryPerWireByte(count: number) {
  const relay = await startRelayChild({ maxMessageBytes: 32_768 });
  const http = new RawHttp(relay.url);
  try {
    const agent = await http.createSession('heavy');
    const body = JSON.stringify({ json: new Array(9_000).fill({}) });
    const used = (m: NodeJS.MemoryUsage): number => m.heapUsed + m.external + m.arrayBuffers;
    const before = used(await relay.memory());
    for (let i = 0; i < count; i++) {
      await http.request(
        'POST',
        `/v1/sessions/${agent.sessionId}/messages`,
        headersOf(agent),
        JSON.parse(body),
      );
    }
    const after = used(await relay.memory());
    const wire = Buffer.byteLength(body) * count;
    return { wire, held: after - before, ratio: (after - before) / wire };
  } finally {
    await http.close();
    await relay.close();
  }
}

export const stores: Benchmark = async (ctx) => {
  const seconds = ctx.quick ? 2 : 8;
  const redis = await RedisServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'nexus-bench-stores-'));
  const floor = await startFloor();
  const started: RelayChild[] = [];
  const relay = async (store: string): Promise<RelayChild> => {
    const child = await startRelayChild({ store });
    started.push(child);
    return child;
  };
  try {
    await load([floor.url], {}, 1);
    const setups: Setup[] = [
      { name: 'memory', target: 0.6, relays: [await relay('memory')] },
      { name: 'sqlite', target: 0.4, relays: [await relay(`sqlite:${join(dir, 'relay.db')}`)] },
      { name: 'redis, 1 process', target: 0.4, relays: [await relay(redis.url)] },
      {
        name: 'redis, 2 processes',
        target: 0.4,
        relays: [await relay(`${redis.url}/1`), await relay(`${redis.url}/1`)],
      },
    ];
    const rows: Row[] = [];
    let letter = 'a'.charCodeAt(0);
    for (const setup of setups) {
      // The floor is measured right before each store's loads: on a shared machine the load
      // around them moves, and a floor from the start of the run would skew later ratios.
      const base = await load([floor.url], {}, seconds);
      const { sends, polls } = await measure(setup, seconds);
      ctx.log(`  ${setup.name}: hono floor ${fmtCount(base.rps)} req/s`);
      for (const [kind, figure] of [
        ['sends', sends],
        ['polls (5 back)', polls],
      ] as const) {
        const ratio = figure.rps / base.rps;
        rows.push({
          id: `10${String.fromCharCode(letter++)}`,
          what: `relay ${kind}/s, ${setup.name} store, ${CONNECTIONS} connections`,
          figure: `${fmtCount(figure.rps)} req/s · p99 ${figure.p99} ms`,
          baseline: `Hono fixed JSON ${fmtCount(base.rps)} req/s (just before)`,
          ratio: fmtRatio(ratio),
          target: `≥ ${setup.target}× of the Hono floor`,
          met: figure.bad === 0 && ratio >= setup.target,
          ...(figure.bad > 0 && { note: `${figure.bad} errors or non-2xx answers` }),
          data: { figure, baseline: base, ratio },
        });
      }
    }
    const [a, b] = setups[3]?.relays ?? [];
    if (a && b) {
      const wake = await crossProcessWake(a, b, ctx.quick ? 30 : 200);
      rows.push({
        id: `10${String.fromCharCode(letter++)}`,
        what: 'long-poll wake-up across two relay processes on one Redis (send on A → poll on B)',
        figure: fmtLatency(wake),
        baseline: '—',
        ratio: '—',
        target: 'p99 ≤ 50 ms',
        met: wake.p99 <= 50,
        data: { wake },
      });
    }
    const big = await healthDuringBigPolls(ctx.quick ? 3 : 10);
    rows.push({
      id: `10${String.fromCharCode(letter++)}`,
      what: '/health while 4 clients poll a session of 1,000 × 32 KB messages (memory store)',
      figure: fmtLatency(big.health),
      baseline: `${fmtCount(big.pollsPerS)} big polls/s, ${(big.pollBytes / 1024).toFixed(0)} KB each`,
      ratio: '—',
      target: 'p99 ≤ 100 ms',
      met: big.health.p99 <= 100,
      data: big,
    });
    const heavy = await memoryPerWireByte(ctx.quick ? 100 : 300);
    rows.push({
      id: `10${String.fromCharCode(letter++)}`,
      what: 'relay memory held per wire byte: json of 9,000 `{}` per message (memory store)',
      figure: `${fmtBytes(heavy.held)} held for ${fmtBytes(heavy.wire)} sent`,
      baseline: 'the bytes sent',
      ratio: fmtRatio(heavy.ratio),
      target: '≤ 3×',
      met: heavy.ratio <= 3,
      data: heavy,
    });
    return rows;
  } finally {
    for (const child of started) await child.close();
    floor.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
};
