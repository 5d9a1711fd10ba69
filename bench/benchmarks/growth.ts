/**
 * 6: growth. Poll latency (raw HTTP, 10 messages returned each time) with 10, 10 000 and
 * 100 000 messages held in the session, and with 10 and 10 000 live sessions on the relay.
 * The cases are polled round-robin in one loop, so drift hits them alike; the smallest case is
 * the baseline.
 */
import { type RawAgent, RawHttp } from '../lib/http.ts';
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtCount, fmtLatency, fmtRatio, type Row } from '../lib/report.ts';
import { Samples, timed } from '../lib/stats.ts';
import { bounded } from '../lib/util.ts';

const TARGET = 1.5;
const RETURNED = 10;
const CHARS = 100;

interface Case {
  label: string;
  http: RawHttp;
  agent: RawAgent;
  after: string;
  samples: Samples;
}

async function newCase(url: string, label: string, held: number, call: RelayCall): Promise<Case> {
  const http = new RawHttp(url);
  const agent = await http.createSession('grow');
  const { lastCursor } = (await call('fill', {
    sessionId: agent.sessionId,
    agentId: agent.agentId,
    sessionKey: agent.sessionKey,
    count: held,
    chars: CHARS,
  })) as { lastCursor: string };
  return {
    label,
    http,
    agent,
    after: String(Number(lastCursor) - RETURNED),
    samples: new Samples(),
  };
}

type RelayCall = Awaited<ReturnType<typeof startRelayChild>>['call'];

async function measure(cases: Case[], rounds: number, maxMs: number): Promise<number> {
  const poll = async (c: Case, record: boolean) => {
    const { ms, value } = await timed(() => c.http.poll(c.agent, c.after));
    if (value.messages.length !== RETURNED) throw new Error(`${c.label}: wrong message count`);
    if (record) c.samples.record(ms);
  };
  await bounded({ count: 100, maxMs: 10_000 }, async () => {
    for (const c of cases) await poll(c, false);
  });
  return bounded({ count: rounds, maxMs }, async () => {
    for (const c of cases) await poll(c, true);
  });
}

function row(id: string, what: string, figureCase: Case, baseCase: Case): Row {
  const figure = figureCase.samples.summary();
  const baseline = baseCase.samples.summary();
  const ratio = figure.p50 / baseline.p50;
  return {
    id,
    what,
    figure: fmtLatency(figure),
    baseline: `${baseCase.label} ${fmtLatency(baseline)}`,
    ratio: `${fmtRatio(ratio)} (p50); ${fmtRatio(figure.p99 / baseline.p99)} (p99)`,
    target: `p50 ≤ ${TARGET}× smallest case`,
    met: ratio <= TARGET,
    data: { figure, baseline, ratio },
  };
}

export const growth: Benchmark = async (ctx) => {
  const rounds = ctx.quick ? 300 : 2_000;
  const maxMs = ctx.quick ? 10_000 : 60_000;
  const rows: Row[] = [];

  // Messages held in one session.
  const relay = await startRelayChild({ maxMessagesPerSession: 110_000 });
  let cases: Case[] = [];
  try {
    cases = [
      await newCase(relay.url, '10 messages held', 10, relay.call),
      await newCase(relay.url, '10 000 messages held', 10_000, relay.call),
      await newCase(relay.url, '100 000 messages held', 100_000, relay.call),
    ];
    const done = await measure(cases, rounds, maxMs);
    ctx.log(`  messages: ${done} rounds`);
    const [small, mid, large] = cases as [Case, Case, Case];
    rows.push(row('6a', `poll (${RETURNED} returned), 10 000 messages held`, mid, small));
    rows.push(row('6b', `poll (${RETURNED} returned), 100 000 messages held`, large, small));
  } finally {
    await Promise.all(cases.map((c) => c.http.close()));
    await relay.close();
  }

  // Live sessions on the relay: two relays side by side, polled alternately.
  const few = await startRelayChild();
  const many = await startRelayChild();
  cases = [];
  try {
    await few.call('sessions', { count: 9, messages: 5, chars: CHARS });
    await many.call('sessions', { count: 9_999, messages: 5, chars: CHARS });
    cases = [
      await newCase(few.url, '10 live sessions', 20, few.call),
      await newCase(many.url, `${fmtCount(10_000)} live sessions`, 20, many.call),
    ];
    const done = await measure(cases, rounds, maxMs);
    ctx.log(`  sessions: ${done} rounds`);
    const [small, large] = cases as [Case, Case];
    rows.push(row('6c', `poll (${RETURNED} returned), 10 000 live sessions`, large, small));
  } finally {
    await Promise.all(cases.map((c) => c.http.close()));
    await few.close();
    await many.close();
  }
  return rows;
};
