/**
 * 7: MCP server cold start (spawn until the `initialize` answer), against spawning bare
 * `node -e ""` until it exits; then the server's idle RSS after 100 tool calls, from
 * /proc/<pid>/status, against an idle bare node process read the same way.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mcpTransport, memoryOf, newClient, rssOf, startMcp } from '../lib/mcp.ts';
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

const START_SLACK_MS = 250;
const RSS_LIMIT = 80 * 1024 * 1024;
const CALLS = 100;

function bareNode(): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', () => resolve(performance.now() - start));
  });
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

export const coldStart: Benchmark = async (ctx) => {
  const relay = await startRelayChild();
  const rows: Row[] = [];
  try {
    const bare = new Samples();
    const mcp = new Samples();
    await bareNode();
    await mcpStart(relay.url);
    const done = await bounded(
      { count: ctx.quick ? 5 : 30, maxMs: ctx.quick ? 15_000 : 60_000 },
      async () => {
        bare.record(await bareNode());
        mcp.record(await mcpStart(relay.url));
      },
    );
    ctx.log(`  ${done} cold starts`);
    const figure = mcp.summary();
    const baseline = bare.summary();
    const extra = figure.p50 - baseline.p50;
    rows.push({
      id: '7a',
      what: 'MCP server cold start: spawn → initialize answer',
      figure: fmtLatency(figure),
      baseline: `node -e "" ${fmtLatency(baseline)}`,
      ratio: `${fmtDelta(extra)} (p50); ${fmtRatio(figure.p50 / baseline.p50)}`,
      target: `p50 ≤ bare node + ${START_SLACK_MS} ms`,
      met: extra <= START_SLACK_MS,
      data: { figure, baseline, p50OverBaselineMs: extra, ratio: figure.p50 / baseline.p50 },
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
      rows.push({
        id: '7b',
        what: `MCP server idle RSS after ${CALLS} tool calls`,
        figure: fmtBytes(rss),
        baseline: `idle bare node ${fmtBytes(bareIdle)}`,
        ratio: fmtRatio(rss / bareIdle),
        target: `≤ ${fmtBytes(RSS_LIMIT)}`,
        met: rss <= RSS_LIMIT,
        note: `of the RSS, ${fmtBytes(memory?.file ?? Number.NaN)} is file-backed (the node binary's pages, shared with every node process) and ${fmtBytes(memory?.anon ?? Number.NaN)} anonymous (heap, code, buffers)`,
        data: {
          figureBytes: rss,
          anonBytes: memory?.anon ?? null,
          fileBytes: memory?.file ?? null,
          baselineBytes: bareIdle,
          ratio: rss / bareIdle,
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
