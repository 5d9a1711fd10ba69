/**
 * 5: fan-out. 50 agents long-poll one session, each on its own keep-alive connection; one
 * send wakes them. The figure is each agent's wake time, measured from the send starting.
 */
import { type RawAgent, RawHttp } from '../lib/http.ts';
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtDelta, fmtLatency } from '../lib/report.ts';
import { Samples, timed } from '../lib/stats.ts';
import { bounded, filler, waitUntil, withTimeout } from '../lib/util.ts';

const AGENTS = 50;
const SLACK_MS = 10;

export const fanOut: Benchmark = async (ctx) => {
  const relay = await startRelayChild({}, ctx.profile ? { profile: 'relay-fan-out' } : {});
  const control = new RawHttp(relay.url);
  const stats = new RawHttp(relay.url);
  const pollers: { http: RawHttp; agent: RawAgent }[] = [];
  try {
    const sender = await control.createSession('sender', AGENTS + 1);
    for (let i = 0; i < AGENTS; i++) {
      const http = new RawHttp(relay.url);
      pollers.push({ http, agent: await http.join(sender.sessionId, `poller-${i}`) });
    }
    let cursor = (await control.poll(sender)).nextCursor;
    const wake = new Samples();
    const slowest = new Samples();
    let woken = 0;
    let expected = 0;
    const round = async (record: boolean, i: number) => {
      const after = cursor;
      const done = pollers.map(({ http, agent }) =>
        http.poll(agent, after, 25_000).then((result) => {
          const at = performance.now();
          if (result.messages.length !== 1) throw new Error('poller woke without the message');
          return at;
        }),
      );
      await waitUntil(
        `${AGENTS} held long-polls`,
        async () => (await stats.stats()).pendingLongPolls === AGENTS,
        5_000,
      );
      const start = performance.now();
      const sent = await control.send(sender, filler(60, i));
      const times = await withTimeout('fan-out wake', Promise.all(done), 10_000);
      cursor = sent.cursor;
      if (!record) return;
      expected += AGENTS;
      woken += times.length;
      for (const at of times) wake.record(at - start);
      slowest.record(Math.max(...times) - start);
    };
    await bounded({ count: 5, maxMs: 10_000 }, (i) => round(false, i));
    const done = await bounded(
      { count: ctx.quick ? 30 : 200, maxMs: ctx.quick ? 15_000 : 60_000 },
      (i) => round(true, i),
    );
    ctx.log(`  ${done} rounds of ${AGENTS}`);
    const rtt = new Samples();
    await bounded({ count: ctx.quick ? 200 : 1_000, maxMs: 10_000 }, async () => {
      rtt.record((await timed(() => control.poll(sender, cursor))).ms);
    });
    const figure = wake.summary();
    const baseline = rtt.summary();
    const extra = figure.p99 - baseline.p50;
    const last = slowest.summary();
    return [
      {
        id: '5',
        what: `fan-out: ${AGENTS} agents long-polling one session, one send`,
        figure: `${fmtLatency(figure)}; woken ${woken}/${expected}`,
        baseline: `raw HTTP round trip ${fmtLatency(baseline)}`,
        ratio: `p99 ${fmtDelta(extra)} over baseline p50`,
        target: `all woken, p99 ≤ baseline p50 + ${SLACK_MS} ms`,
        met: woken === expected && extra <= SLACK_MS,
        note: `slowest of the ${AGENTS} per send: ${fmtLatency(last)}`,
        data: { figure, baseline, woken, expected, p99OverBaselineMs: extra, slowestPerSend: last },
      },
    ];
  } finally {
    await Promise.all(pollers.map(({ http }) => http.close()));
    await stats.close();
    await control.close();
    await relay.close();
  }
};
