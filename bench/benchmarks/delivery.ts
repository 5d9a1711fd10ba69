/**
 * 2: delivery latency. Agent B (the built MCP server) is inside wait_for_messages; agent A sends
 * with one raw HTTP request; the figure is the time from A's send starting to B's call
 * returning. With the relay's long-poll, and again with it switched off, where the server polls
 * at NEXUS_POLL_INTERVAL_MS.
 */
import { RawHttp } from '../lib/http.ts';
import { startMcp, storedSession } from '../lib/mcp.ts';
import { type RelayChild, startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtDelta, fmtLatency, fmtMs, fmtRatio, type Row } from '../lib/report.ts';
import { Samples, timed } from '../lib/stats.ts';
import { bounded, filler, profileArgs, sleep, waitUntil, withTimeout } from '../lib/util.ts';

export const POLL_FLOOR_MS = 100;
const LONG_POLL_SLACK_MS = 2;

interface WaitOut {
  messages: { text: string }[];
  timed_out: boolean;
}

interface Setup {
  relay: RelayChild;
  http: RawHttp;
  wait(): Promise<WaitOut>;
  send(text: string): Promise<unknown>;
  close(): Promise<void>;
}

async function setup(longPoll: boolean, profile: boolean, name: string): Promise<Setup> {
  const relay = await startRelayChild({ longPoll });
  const http = new RawHttp(relay.url);
  const b = await startMcp({
    relayUrl: relay.url,
    agentId: 'bench-b',
    pollIntervalMs: POLL_FLOOR_MS,
    nodeArgs: profileArgs(profile ? name : undefined),
  });
  await b.ok('create_session', { alias: 'wait', pair: false });
  const stored = storedSession(b.home, 'wait');
  const a = await http.join(stored.sessionId, 'raw-a');
  return {
    relay,
    http,
    wait: () => b.ok<WaitOut>('wait_for_messages', { session: 'wait', timeout_seconds: 10 }),
    send: (text) => http.send(a, text),
    async close() {
      await b.close();
      await http.close();
      await relay.close();
    },
  };
}

/** One raw HTTP round trip on the same relay: a poll with nothing new. */
async function roundTrip(http: RawHttp, samples: Samples, count: number): Promise<void> {
  const agent = await http.createSession('rtt');
  const { nextCursor } = await http.poll(agent);
  await bounded({ count, maxMs: 10_000 }, async () => {
    samples.record((await timed(() => http.poll(agent, nextCursor))).ms);
  });
}

async function longPollRun(ctx: Parameters<Benchmark>[0]): Promise<Row> {
  const count = ctx.quick ? 60 : 300;
  const s = await setup(true, ctx.profile, 'mcp-wait-longpoll');
  const stats = new RawHttp(s.relay.url);
  try {
    const delivery = new Samples();
    const rtt = new Samples();
    const held = async (n: number) => (await stats.stats()).pendingLongPolls === n;
    const one = async (record: boolean, i: number) => {
      await waitUntil('no held long-poll', () => held(0), 5_000);
      const waiting = s.wait();
      // B's watcher holds its long-poll on the relay: now it is "in wait_for_messages".
      await waitUntil('B to hold a long-poll', () => held(1), 5_000);
      await sleep(2);
      const text = filler(80, i);
      const start = performance.now();
      await s.send(text);
      const out = await withTimeout('wait_for_messages', waiting, 15_000);
      const ms = performance.now() - start;
      if (out.timed_out || out.messages[0]?.text !== text) throw new Error('wrong delivery');
      if (record) delivery.record(ms);
    };
    await bounded({ count: 10, maxMs: 10_000 }, (i) => one(false, i));
    const done = await bounded({ count, maxMs: ctx.quick ? 15_000 : 60_000 }, (i) => one(true, i));
    await roundTrip(s.http, rtt, ctx.quick ? 200 : 1_000);
    const figure = delivery.summary();
    const baseline = rtt.summary();
    const extra = figure.p50 - baseline.p50;
    ctx.log(`  long-poll: ${done} messages`);
    return {
      id: '2a',
      what: 'delivery to wait_for_messages, relay long-poll on',
      figure: fmtLatency(figure),
      baseline: `raw HTTP round trip ${fmtLatency(baseline)}`,
      ratio: `${fmtDelta(extra)} (p50); ${fmtRatio(figure.p50 / baseline.p50)}`,
      target: `p50 ≤ baseline p50 + ${LONG_POLL_SLACK_MS} ms`,
      met: extra <= LONG_POLL_SLACK_MS,
      data: { figure, baseline, p50OverBaselineMs: extra, ratio: figure.p50 / baseline.p50 },
    };
  } finally {
    await stats.close();
    await s.close();
  }
}

/**
 * Without long-poll the server polls: right away, then after the floor interval, backing off
 * while nothing comes. A sends at a random moment within `windowMs` of B's wait starting.
 */
async function intervalRun(
  ctx: Parameters<Benchmark>[0],
  id: string,
  windowMs: number,
  count: number,
  maxMs: number,
  target: boolean,
): Promise<Row> {
  const s = await setup(false, false, 'mcp-wait-interval');
  try {
    const delivery = new Samples();
    const one = async (record: boolean, i: number) => {
      const waiting = s.wait();
      await sleep(Math.random() * windowMs);
      const text = filler(80, i);
      const start = performance.now();
      await s.send(text);
      const out = await withTimeout('wait_for_messages', waiting, 15_000);
      const ms = performance.now() - start;
      if (out.timed_out || out.messages[0]?.text !== text) throw new Error('wrong delivery');
      if (record) delivery.record(ms);
    };
    await bounded({ count: 3, maxMs: 5_000 }, (i) => one(false, i));
    const done = await bounded({ count, maxMs }, (i) => one(true, i));
    ctx.log(`  interval polling, sends within ${windowMs} ms: ${done} messages`);
    const figure = delivery.summary();
    return {
      id,
      what: `delivery to wait_for_messages, long-poll off, sent 0–${windowMs} ms into the wait`,
      figure: fmtLatency(figure),
      baseline: `poll floor NEXUS_POLL_INTERVAL_MS = ${fmtMs(POLL_FLOOR_MS)}`,
      ratio: `${fmtRatio(figure.p50 / POLL_FLOOR_MS)} (p50); ${fmtRatio(figure.p99 / POLL_FLOOR_MS)} (p99)`,
      target: target ? 'p50 ≤ poll floor' : 'none (shows the idle back-off)',
      met: target ? figure.p50 <= POLL_FLOOR_MS : null,
      data: {
        figure,
        baseline: { pollFloorMs: POLL_FLOOR_MS },
        windowMs,
        ratio: figure.p50 / POLL_FLOOR_MS,
      },
    };
  } finally {
    await s.close();
  }
}

export const delivery: Benchmark = async (ctx) => {
  const rows = [
    await longPollRun(ctx),
    await intervalRun(
      ctx,
      '2b',
      POLL_FLOOR_MS,
      ctx.quick ? 30 : 200,
      ctx.quick ? 8_000 : 60_000,
      true,
    ),
  ];
  // Seconds per sample: full runs only.
  if (!ctx.quick) rows.push(await intervalRun(ctx, '2c', 2_000, 40, 90_000, false));
  return rows;
};
