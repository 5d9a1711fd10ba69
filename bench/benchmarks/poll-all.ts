/**
 * 8a: poll_messages without a session, over 100 sessions each holding one new message, against
 * 100 raw HTTP polls of the same sessions at the same concurrency (8 in flight, as the server's
 * poll-all runs them), in the same loop.
 * 8b: a single-session poll_messages with 100 sessions in the store, against the same call on a
 * server whose store holds that one session only: the cost of a call must not grow with the store.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RawAgent, RawHttp } from '../lib/http.ts';
import { startMcp } from '../lib/mcp.ts';
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtLatency, fmtRatio, type Row } from '../lib/report.ts';
import { Samples, timed } from '../lib/stats.ts';
import { bounded, filler, profileArgs } from '../lib/util.ts';

const SESSIONS = 100;
/** The server's poll-all concurrency (POLL_ALL_CONCURRENCY in src/core/inbox.ts). */
const CONCURRENCY = 8;
const TARGET_ALL = 1.5;
const TARGET_GROWTH = 1.2;

interface PollOut {
  messages: unknown[];
  has_more: boolean;
  errors?: unknown[];
}

async function inParallel<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

export const pollAll: Benchmark = async (ctx) => {
  const relay = await startRelayChild();
  const http = new RawHttp(relay.url);
  const server = await startMcp({
    relayUrl: relay.url,
    agentId: 'bench-b',
    nodeArgs: profileArgs(ctx.profile ? 'mcp-poll-all' : undefined),
  });
  const lone = await startMcp({ relayUrl: relay.url, agentId: 'bench-c' });
  try {
    for (let i = 0; i < SESSIONS; i++) {
      await server.ok('create_session', { alias: `s${i}`, pair: false });
    }
    await lone.ok('create_session', { alias: 's0', pair: false });
    const sessionsOf = (home: string) =>
      (
        JSON.parse(readFileSync(join(home, 'store.json'), 'utf8')) as {
          sessions: Record<
            string,
            { sessionId: string; alias?: string; agentId: string; sessionKey: string }
          >;
        }
      ).sessions;
    const data = sessionsOf(server.home);
    const peers: RawAgent[] = [];
    const readers: RawAgent[] = [];
    for (const session of Object.values(data)) {
      peers.push(await http.join(session.sessionId, 'peer'));
      readers.push({
        sessionId: session.sessionId,
        agentId: session.agentId,
        sessionKey: session.sessionKey,
      });
    }
    const single = peers.find((peer) => data[peer.sessionId]?.alias === 's0') as RawAgent;
    const loneSession = Object.values(sessionsOf(lone.home))[0] as { sessionId: string };
    const lonePeer = await http.join(loneSession.sessionId, 'peer');
    const rawCursors = new Map(readers.map((reader) => [reader.sessionId, '0']));
    const rawHttp = Array.from({ length: CONCURRENCY }, () => new RawHttp(relay.url));
    const text = filler(100);

    const all = new Samples();
    const raw = new Samples();
    const one = new Samples();
    const oneLone = new Samples();
    const round = async (record: boolean) => {
      await http.send(single, text);
      await http.send(lonePeer, text);
      const p1 = await timed(() => server.ok<PollOut>('poll_messages', { session: 's0' }));
      const p0 = await timed(() => lone.ok<PollOut>('poll_messages', { session: 's0' }));
      if (p1.value.messages.length !== 1 || p0.value.messages.length !== 1)
        throw new Error('single poll: expected 1 message');
      for (const peer of peers) await http.send(peer, text);
      const p2 = await timed(() => server.ok<PollOut>('poll_messages', {}));
      if (p2.value.messages.length !== SESSIONS || p2.value.errors?.length) {
        throw new Error(`poll of all sessions: ${p2.value.messages.length} messages`);
      }
      // The same 100 polls, raw, 8 at a time, each reading the one new message with its own cursor.
      let lane = 0;
      const p3 = await timed(() =>
        inParallel(readers, CONCURRENCY, async (reader) => {
          const client = rawHttp[lane++ % CONCURRENCY] as RawHttp;
          const polled = await client.poll(reader, rawCursors.get(reader.sessionId));
          rawCursors.set(reader.sessionId, polled.nextCursor ?? rawCursors.get(reader.sessionId));
        }),
      );
      if (!record) return;
      one.record(p1.ms);
      oneLone.record(p0.ms);
      all.record(p2.ms);
      raw.record(p3.ms);
    };
    await bounded({ count: ctx.quick ? 3 : 10, maxMs: 20_000 }, () => round(false));
    const done = await bounded(
      { count: ctx.quick ? 20 : 100, maxMs: ctx.quick ? 15_000 : 90_000 },
      () => round(true),
    );
    ctx.log(`  ${done} rounds`);
    await Promise.all(rawHttp.map((client) => client.close()));
    const rows: Row[] = [];
    const figure = all.summary();
    const baseline = raw.summary();
    rows.push({
      id: '8a',
      what: `poll_messages without a session, ${SESSIONS} sessions × 1 new message`,
      figure: fmtLatency(figure),
      baseline: `${SESSIONS} raw HTTP polls, ${CONCURRENCY} at a time ${fmtLatency(baseline)}`,
      ratio: `${fmtRatio(figure.p50 / baseline.p50)} (p50)`,
      target: `p50 ≤ ${TARGET_ALL}×`,
      met: figure.p50 / baseline.p50 <= TARGET_ALL,
      note: `single-session poll_messages on the same server: ${fmtLatency(one.summary())}`,
      data: { figure, baseline, ratio: figure.p50 / baseline.p50, sessions: SESSIONS },
    });
    const grown = one.summary();
    const small = oneLone.summary();
    rows.push({
      id: '8b',
      what: `single-session poll_messages, ${SESSIONS} sessions in the store`,
      figure: fmtLatency(grown),
      baseline: `1 session in the store ${fmtLatency(small)}`,
      ratio: `${fmtRatio(grown.p50 / small.p50)} (p50)`,
      target: `p50 ≤ ${TARGET_GROWTH}×`,
      met: grown.p50 / small.p50 <= TARGET_GROWTH,
      data: { figure: grown, baseline: small, ratio: grown.p50 / small.p50, sessions: SESSIONS },
    });
    return rows;
  } finally {
    await server.close();
    await lone.close();
    await http.close();
    await relay.close();
  }
};
