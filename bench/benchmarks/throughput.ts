/**
 * 4: relay throughput under autocannon, 64 connections: sends into one session, then polls of
 * that (now busy) session returning its last 5 messages. GET /health under the same load is
 * shown as the framework's floor for reference; the targets are absolute.
 */
import autocannon from 'autocannon';
import { RawHttp, sendLoadRequest } from '../lib/http.ts';
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtCount, fmtMs, fmtRatio, type Row } from '../lib/report.ts';
import { filler } from '../lib/util.ts';

const CONNECTIONS = 64;
const TARGET_RPS = 10_000;
const TARGET_P99_MS = 20;

interface Load {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  durationS: number;
}

async function load(options: autocannon.Options, durationS: number): Promise<Load> {
  const result = await autocannon({
    connections: CONNECTIONS,
    duration: durationS,
    timeout: 10,
    ...options,
  });
  return {
    rps: result.requests.total / result.duration,
    total: result.requests.total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    durationS: result.duration,
  };
}

const fmtLoad = (l: Load): string =>
  `${fmtCount(l.rps)} req/s · p50 ${fmtMs(l.p50)} · p99 ${fmtMs(l.p99)} · n=${fmtCount(l.total)}`;

export const throughput: Benchmark = async (ctx) => {
  const seconds = ctx.quick ? 2 : 10;
  const relay = await startRelayChild({}, ctx.profile ? { profile: 'relay-throughput' } : {});
  const http = new RawHttp(relay.url);
  try {
    const agent = await http.createSession('load');
    const path = `/v1/sessions/${agent.sessionId}/messages`;
    const send: autocannon.Options = {
      url: `${relay.url}${path}`,
      ...sendLoadRequest(agent),
    };
    // Warm-up: JIT, connection setup.
    await load({ ...send }, 1);
    const health = await load({ url: `${relay.url}/health` }, seconds);
    const sends = await load(send, seconds);
    const { cursor } = await http.send(agent, filler(100));
    const after = String(Number(cursor) - 5);
    const polls = await load(
      { url: `${relay.url}${path}?after=${after}`, headers: { 'x-agent-id': agent.agentId } },
      seconds,
    );
    ctx.log(`  health ${fmtLoad(health)}`);
    const rows: Row[] = [];
    for (const [id, what, figure] of [
      ['4a', `relay sends under autocannon, ${CONNECTIONS} connections`, sends],
      ['4b', `relay polls of a busy session (5 messages back), ${CONNECTIONS} connections`, polls],
    ] as const) {
      const clean = figure.errors === 0 && figure.non2xx === 0;
      rows.push({
        id,
        what,
        figure: fmtLoad(figure),
        baseline: `GET /health ${fmtCount(health.rps)} req/s (reference)`,
        ratio: `${fmtRatio(figure.rps / health.rps)} of /health`,
        target: `≥ ${fmtCount(TARGET_RPS)} req/s, p99 ≤ ${TARGET_P99_MS} ms`,
        met: clean && figure.rps >= TARGET_RPS && figure.p99 <= TARGET_P99_MS,
        ...(!clean && { note: `${figure.errors} errors, ${figure.non2xx} non-2xx answers` }),
        data: {
          figure,
          baseline: health,
          ratio: figure.rps / health.rps,
          connections: CONNECTIONS,
        },
      });
    }
    return rows;
  } finally {
    await http.close();
    await relay.close();
  }
};
