/**
 * 1: send_message and poll_messages through the built MCP server over stdio (SDK Client),
 * against one raw keep-alive HTTP request doing the same operation, interleaved in one loop.
 */
import { RawHttp } from '../lib/http.ts';
import { startMcp } from '../lib/mcp.ts';
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtLatency, fmtRatio, type Row } from '../lib/report.ts';
import { Samples, timed } from '../lib/stats.ts';
import { bounded, filler, profileArgs } from '../lib/util.ts';

const TARGET = 1.5;

interface PollOut {
  messages: unknown[];
}

export const mcpVsRaw: Benchmark = async (ctx) => {
  const iterations = ctx.quick ? 200 : 2_000;
  const warmup = ctx.quick ? 30 : 200;
  const relay = await startRelayChild();
  const httpA = new RawHttp(relay.url);
  const httpB = new RawHttp(relay.url);
  const a = await startMcp({
    relayUrl: relay.url,
    agentId: 'bench-a',
    nodeArgs: profileArgs(ctx.profile ? 'mcp-a' : undefined),
  });
  const b = await startMcp({
    relayUrl: relay.url,
    agentId: 'bench-b',
    nodeArgs: profileArgs(ctx.profile ? 'mcp-b' : undefined),
  });
  try {
    const created = await a.ok<{ pairing: { code: string } }>('create_session', {
      alias: 'bench',
      pair: true,
    });
    await b.ok('claim_pairing_code', { code: created.pairing.code, alias: 'bench' });
    const rawA = await httpA.createSession('raw-a');
    const rawB = await httpB.join(rawA.sessionId, 'raw-b');
    let rawCursor = '0';

    const ping = new Samples();
    const rawSend = new Samples();
    const rawPoll = new Samples();
    const mcpSend = new Samples();
    const mcpPoll = new Samples();
    const text = filler(100);

    const round = async (record: boolean) => {
      const s1 = await timed(() => httpA.send(rawA, text));
      const p1 = await timed(() => httpB.poll(rawB, rawCursor));
      if (p1.value.messages.length !== 1) throw new Error('raw poll did not return one message');
      rawCursor = p1.value.nextCursor;
      const s2 = await timed(() => a.ok('send_message', { session: 'bench', text }));
      const p2 = await timed(() => b.ok<PollOut>('poll_messages', { session: 'bench' }));
      if (p2.value.messages.length !== 1) throw new Error('MCP poll did not return one message');
      // The stdio JSON-RPC floor: an MCP ping, no tool, no HTTP.
      const p3 = await timed(() => b.client.ping());
      if (!record) return;
      ping.record(p3.ms);
      rawSend.record(s1.ms);
      rawPoll.record(p1.ms);
      mcpSend.record(s2.ms);
      mcpPoll.record(p2.ms);
    };
    await bounded({ count: warmup, maxMs: 20_000 }, () => round(false));
    const done = await bounded({ count: iterations, maxMs: ctx.quick ? 15_000 : 120_000 }, () =>
      round(true),
    );
    ctx.log(`  ${done} rounds`);

    const floor = ping.summary();
    const rows: Row[] = [];
    for (const [id, name, mcp, raw] of [
      ['1a', 'send_message via MCP stdio', mcpSend, rawSend],
      ['1b', 'poll_messages via MCP stdio (1 new message)', mcpPoll, rawPoll],
    ] as const) {
      const figure = mcp.summary();
      const baseline = raw.summary();
      const ratio = figure.p50 / baseline.p50;
      ctx.shared.set(`mcp-${id === '1a' ? 'send' : 'poll'}`, figure);
      rows.push({
        id,
        what: name,
        figure: fmtLatency(figure),
        baseline: `raw HTTP ${fmtLatency(baseline)}`,
        ratio: `${fmtRatio(ratio)} (p50)`,
        target: `p50 ≤ ${TARGET}×`,
        met: ratio <= TARGET,
        ...(id === '1a' && {
          note: `stdio JSON-RPC floor (an MCP ping: no tool, no HTTP): ${fmtLatency(floor)}`,
        }),
        data: { figure, baseline, ratio, p99Ratio: figure.p99 / baseline.p99, mcpPing: floor },
      });
    }
    return rows;
  } finally {
    await a.close();
    await b.close();
    await httpA.close();
    await httpB.close();
    await relay.close();
  }
};
