/**
 * 7: MCP server cold start (spawn until the `initialize` answer), against the floor MCP server
 * (bench/floor-server.mjs: same SDK, one HTTP request per tool) started the same way, interleaved;
 * then the server's idle RSS after 100 tool calls, from /proc/<pid>/status, against the floor
 * server after 100 calls of its own. Bare `node -e ""` is kept for reference.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawHttp } from '../lib/http.ts';
import {
  floorTransport,
  mcpTransport,
  memoryOf,
  newClient,
  rssOf,
  startFloor,
  startMcp,
} from '../lib/mcp.ts';
import { startRelayChild } from '../lib/relay.ts';
import {
  type Benchmark,
  failedRow,
  fmtBytes,
  fmtDelta,
  fmtLatency,
  fmtRatio,
  type Row,
} from '../lib/report.ts';
import { Samples } from '../lib/stats.ts';
import { bounded, filler, sleep, withTimeout } from '../lib/util.ts';

const START_SLACK_MS = 30;
const RSS_SLACK = 5 * 1024 * 1024;
const CALLS = 100;

function bareNode(): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(performance.now() - start));
  });
}

async function floorStart(relayUrl: string): Promise<number> {
  const client = newClient();
  try {
    const start = performance.now();
    await withTimeout('floor initialize', client.connect(floorTransport(relayUrl)), 20_000);
    return performance.now() - start;
  } finally {
    await client.close();
  }
}

async function mcpStart(relayUrl: string): Promise<number> {
  const home = mkdtempSync(join(tmpdir(), 'nexus-bench-cold-'));
  const client = newClient();
  try {
    const start = performance.now();
    await withTimeout(
      'MCP initialize',
      client.connect(mcpTransport({ relayUrl, agentId: 'cold' }, home)),
      20_000,
    );
    return performance.now() - start;
  } finally {
    await client.close();
    rmSync(home, { recursive: true, force: true });
  }
}

/** RSS of a bare node process sitting idle, read like the server's. */
async function bareRss(): Promise<number | undefined> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)'], { stdio: 'ignore' });
  try {
    await sleep(1_000);
    return child.pid === undefined ? undefined : rssOf(child.pid);
  } finally {
    child.kill();
  }
}

/** The floor server's RSS after as many send/poll calls as the server gets, then idle. */
async function floorRss(relayUrl: string, text: string, idleMs: number): Promise<number> {
  const http = new RawHttp(relayUrl);
  const agent = await http.createSession('floor-rss');
  const floor = await startFloor(relayUrl, agent);
  try {
    for (let i = 1; i < CALLS; i++) {
      if (i % 2 === 0) await floor.ok('send_message', { session: 'floor', text });
      else await floor.ok('poll_messages', { session: 'floor' });
    }
    await sleep(idleMs);
    return rssOf(floor.pid) ?? Number.NaN;
  } finally {
    await floor.close();
    await http.close();
  }
}

export const coldStart: Benchmark = async (ctx) => {
  const relay = await startRelayChild();
  const rows: Row[] = [];
  try {
    const bare = new Samples();
    const floor = new Samples();
    const mcp = new Samples();
    await bareNode();
    await floorStart(relay.url);
    await mcpStart(relay.url);
    const done = await bounded(
      { count: ctx.quick ? 5 : 30, maxMs: ctx.quick ? 15_000 : 60_000 },
      async () => {
        bare.record(await bareNode());
        floor.record(await floorStart(relay.url));
        mcp.record(await mcpStart(relay.url));
      },
    );
    ctx.log(`  ${done} cold starts`);
    const figure = mcp.summary();
    const baseline = floor.summary();
    const extra = figure.p50 - baseline.p50;
    rows.push({
      id: '7a',
      what: 'MCP server cold start: spawn → initialize answer',
      figure: fmtLatency(figure),
      baseline: `floor MCP server ${fmtLatency(baseline)}`,
      ratio: `${fmtDelta(extra)} (p50); ${fmtRatio(figure.p50 / baseline.p50)}`,
      target: `p50 ≤ floor + ${START_SLACK_MS} ms`,
      met: extra <= START_SLACK_MS,
      note: `node -e "" ${fmtLatency(bare.summary())}`,
      data: {
        figure,
        baseline,
        p50OverBaselineMs: extra,
        ratio: figure.p50 / baseline.p50,
        bareNode: bare.summary(),
      },
    });

    const server = await startMcp({ relayUrl: relay.url, agentId: 'rss' });
    try {
      if (rssOf(server.pid) === undefined) {
        rows.push(
          failedRow(
            '7b',
            'MCP server idle RSS',
            'skipped: /proc/<pid>/status not readable (Linux only)',
            true,
          ),
        );
        return rows;
      }
      await server.ok('create_session', { alias: 'rss', pair: true });
      const text = filler(200);
      for (let i = 1; i < CALLS; i++) {
        if (i % 3 === 0) await server.ok('list_sessions', {});
        else if (i % 3 === 1) await server.ok('send_message', { session: 'rss', text });
        else await server.ok('poll_messages', { session: 'rss', after: '0' });
      }
      await sleep(ctx.quick ? 1_000 : 3_000);
      const memory = memoryOf(server.pid);
      const rss = memory?.rss ?? Number.NaN;
      const bareIdle = (await bareRss()) ?? Number.NaN;
      const floorIdle = await floorRss(relay.url, text, ctx.quick ? 1_000 : 3_000);
      rows.push({
        id: '7b',
        what: `MCP server idle RSS after ${CALLS} tool calls`,
        figure: fmtBytes(rss),
        baseline: `floor MCP server after ${CALLS} calls ${fmtBytes(floorIdle)}`,
        ratio: `${fmtBytes(rss - floorIdle)} more; ${fmtRatio(rss / floorIdle)}`,
        target: `≤ floor + ${fmtBytes(RSS_SLACK)}`,
        met: rss - floorIdle <= RSS_SLACK,
        note: `idle bare node ${fmtBytes(bareIdle)}; of the RSS, ${fmtBytes(memory?.file ?? Number.NaN)} is file-backed (the node binary's pages, shared with every node process) and ${fmtBytes(memory?.anon ?? Number.NaN)} anonymous (heap, code, buffers)`,
        data: {
          figureBytes: rss,
          anonBytes: memory?.anon ?? null,
          fileBytes: memory?.file ?? null,
          baselineBytes: floorIdle,
          bareNodeBytes: bareIdle,
          ratio: rss / floorIdle,
          calls: CALLS,
        },
      });
    } finally {
      await server.close();
    }
    return rows;
  } finally {
    await relay.close();
  }
};
