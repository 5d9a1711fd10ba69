/**
 * 1: send_message and poll_messages through the built MCP server over stdio (SDK Client), against
 * the floor: a minimal MCP server on the same SDK whose tool makes exactly one HTTP request
 * (bench/floor-server.mjs). One raw keep-alive HTTP request doing the same operation is kept for
 * reference. All three run interleaved in one loop, each in its own session on the same relay.
 */
import { RawHttp } from '../lib/http.ts';
import { startFloor, startMcp } from '../lib/mcp.ts';
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtLatency, fmtRatio, type Row } from '../lib/report.ts';
import { Samples, timed } from '../lib/stats.ts';
import { bounded, filler, profileArgs } from '../lib/util.ts';

const TARGET = 1.3;

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
  const floorA0 = await httpA.createSession('floor-a');
  const floorB0 = await httpB.join(floorA0.sessionId, 'floor-b');
  const floorA = await startFloor(
    relay.url,
    floorA0,
    profileArgs(ctx.profile ? 'floor-a' : undefined),
  );
  const floorB = await startFloor(
    relay.url,
    floorB0,
    profileArgs(ctx.profile ? 'floor-b' : undefined),
  );
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
    const samples = {
      rawSend: new Samples(),
      rawPoll: new Samples(),
      floorSend: new Samples(),
      floorPoll: new Samples(),
      mcpSend: new Samples(),
      mcpPoll: new Samples(),
    };
    const text = filler(100);

    const round = async (record: boolean) => {
      const s1 = await timed(() => httpA.send(rawA, text));
      const p1 = await timed(() => httpB.poll(rawB, rawCursor));
      if (p1.value.messages.length !== 1) throw new Error('raw poll did not return one message');
      rawCursor = p1.value.nextCursor;
      const s2 = await timed(() => floorA.ok('send_message', { session: 'floor', text }));
      const p2 = await timed(() => floorB.ok<PollOut>('poll_messages', { session: 'floor' }));
      if (p2.value.messages.length !== 1) throw new Error('floor poll did not return one message');
      const s3 = await timed(() => a.ok('send_message', { session: 'bench', text }));
      const p3 = await timed(() => b.ok<PollOut>('poll_messages', { session: 'bench' }));
      if (p3.value.messages.length !== 1) throw new Error('MCP poll did not return one message');
      // The stdio JSON-RPC floor: an MCP ping, no tool, no HTTP.
      const p4 = await timed(() => b.client.ping());
      if (!record) return;
      ping.record(p4.ms);
      samples.rawSend.record(s1.ms);
      samples.rawPoll.record(p1.ms);
      samples.floorSend.record(s2.ms);
      samples.floorPoll.record(p2.ms);
      samples.mcpSend.record(s3.ms);
      samples.mcpPoll.record(p3.ms);
    };
    await bounded({ count: warmup, maxMs: 20_000 }, () => round(false));
    const done = await bounded({ count: iterations, maxMs: ctx.quick ? 15_000 : 120_000 }, () =>
      round(true),
    );
    ctx.log(`  ${done} rounds`);

    const rows: Row[] = [];
    for (const [id, name, mcp, floor, raw] of [
      ['1a', 'send_message via MCP stdio', samples.mcpSend, samples.floorSend, samples.rawSend],
      [
        '1b',
        'poll_messages via MCP stdio (1 new message)',
        samples.mcpPoll,
        samples.floorPoll,
        samples.rawPoll,
      ],
    ] as const) {
      const figure = mcp.summary();
      const baseline = floor.summary();
      const reference = raw.summary();
      const ratio = figure.p50 / baseline.p50;
      ctx.shared.set(`mcp-${id === '1a' ? 'send' : 'poll'}`, figure);
      rows.push({
        id,
        what: name,
        figure: fmtLatency(figure),
        baseline: `floor MCP server ${fmtLatency(baseline)}`,
        ratio: `${fmtRatio(ratio)} (p50)`,
        target: `p50 ≤ ${TARGET}× floor`,
        met: ratio <= TARGET,
        note: `raw HTTP ${fmtLatency(reference)} (${fmtRatio(figure.p50 / reference.p50)}); stdio JSON-RPC ping ${fmtLatency(ping.summary())}`,
        data: {
          figure,
          baseline,
          ratio,
          p99Ratio: figure.p99 / baseline.p99,
          rawHttp: reference,
          rawRatio: figure.p50 / reference.p50,
          mcpPing: ping.summary(),
        },
      });
    }
    return rows;
  } finally {
    await a.close();
    await b.close();
    await floorA.close();
    await floorB.close();
    await httpA.close();
    await httpB.close();
    await relay.close();
  }
};
