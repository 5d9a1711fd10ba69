/**
 * 8: poll_messages without a session, over 100 sessions each holding one new message, against
 * a single-session poll_messages returning one new message, through the same MCP server.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RawAgent, RawHttp } from '../lib/http.ts';
import { startMcp } from '../lib/mcp.ts';
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtLatency, fmtRatio } from '../lib/report.ts';
import { Samples, timed } from '../lib/stats.ts';
import { bounded, filler, profileArgs } from '../lib/util.ts';

const SESSIONS = 100;
const TARGET = 5;

interface PollOut {
  messages: unknown[];
  has_more: boolean;
  errors?: unknown[];
}

export const pollAll: Benchmark = async (ctx) => {
  const relay = await startRelayChild();
  const http = new RawHttp(relay.url);
  const server = await startMcp({
    relayUrl: relay.url,
    agentId: 'bench-b',
    nodeArgs: profileArgs(ctx.profile ? 'mcp-poll-all' : undefined),
  });
  try {
    for (let i = 0; i < SESSIONS; i++) {
      await server.ok('create_session', { alias: `s${i}`, pair: false });
    }
    const data = JSON.parse(readFileSync(join(server.home, 'store.json'), 'utf8')) as {
      sessions: Record<string, { sessionId: string; alias?: string }>;
    };
    const peers: RawAgent[] = [];
    for (const session of Object.values(data.sessions)) {
      peers.push(await http.join(session.sessionId, 'peer'));
    }
    const single = peers.find((peer) => data.sessions[peer.sessionId]?.alias === 's0') as RawAgent;
    const text = filler(100);

    const all = new Samples();
    const one = new Samples();
    const round = async (record: boolean) => {
      await http.send(single, text);
      const p1 = await timed(() => server.ok<PollOut>('poll_messages', { session: 's0' }));
      if (p1.value.messages.length !== 1) throw new Error('single poll: expected 1 message');
      for (const peer of peers) await http.send(peer, text);
      const p2 = await timed(() => server.ok<PollOut>('poll_messages', {}));
      if (p2.value.messages.length !== SESSIONS || p2.value.errors?.length) {
        throw new Error(`poll of all sessions: ${p2.value.messages.length} messages`);
      }
      if (!record) return;
      one.record(p1.ms);
      all.record(p2.ms);
    };
    await bounded({ count: ctx.quick ? 3 : 10, maxMs: 20_000 }, () => round(false));
    const done = await bounded(
      { count: ctx.quick ? 20 : 100, maxMs: ctx.quick ? 15_000 : 90_000 },
      () => round(true),
    );
    ctx.log(`  ${done} rounds`);
    const figure = all.summary();
    const baseline = one.summary();
    const ratio = figure.p50 / baseline.p50;
    return [
      {
        id: '8',
        what: `poll_messages without a session, ${SESSIONS} sessions × 1 new message`,
        figure: fmtLatency(figure),
        baseline: `single-session poll_messages ${fmtLatency(baseline)}`,
        ratio: `${fmtRatio(ratio)} (p50)`,
        target: `p50 ≤ ${TARGET}×`,
        met: ratio <= TARGET,
        data: { figure, baseline, ratio, sessions: SESSIONS },
      },
    ];
  } finally {
    await server.close();
    await http.close();
    await relay.close();
  }
};
