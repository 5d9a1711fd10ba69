/**
 * 12: send_message and poll_messages in an end-to-end encrypted session against a plain one,
 * interleaved in one loop through the same two built MCP servers on the same relay, so the
 * difference is what encryption costs: preparing and sealing (a `seq` taken under the store
 * lock) on send, opening and persisting the replay guard on poll.
 */
import { startMcp } from '../lib/mcp.ts';
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, fmtLatency, fmtRatio, type Row } from '../lib/report.ts';
import { Samples, timed } from '../lib/stats.ts';
import { bounded, filler, profileArgs } from '../lib/util.ts';

const TARGET = 1.15;

interface PollOut {
  messages: { text: string }[];
}

export const e2eLatency: Benchmark = async (ctx) => {
  const iterations = ctx.quick ? 150 : 1_500;
  const warmup = ctx.quick ? 20 : 150;
  const relay = await startRelayChild();
  const a = await startMcp({
    relayUrl: relay.url,
    agentId: 'bench-a',
    nodeArgs: profileArgs(ctx.profile ? 'e2e-a' : undefined),
  });
  const b = await startMcp({
    relayUrl: relay.url,
    agentId: 'bench-b',
    nodeArgs: profileArgs(ctx.profile ? 'e2e-b' : undefined),
  });
  try {
    for (const [alias, e2e] of [
      ['plain', false],
      ['sealed', true],
    ] as const) {
      const created = await a.ok<{ pairing: { link: string } }>('create_session', {
        alias,
        e2e,
        pair: true,
      });
      await b.ok('claim_pairing_code', { code: created.pairing.link, alias });
      // Past the greeting and the hello, so every measured poll holds one message.
      await a.ok('poll_messages', { session: alias });
      await b.ok('poll_messages', { session: alias });
    }
    const samples = {
      plainSend: new Samples(),
      plainPoll: new Samples(),
      e2eSend: new Samples(),
      e2ePoll: new Samples(),
    };
    const text = filler(100);
    const round = async (record: boolean) => {
      const s1 = await timed(() => a.ok('send_message', { session: 'plain', text }));
      const p1 = await timed(() => b.ok<PollOut>('poll_messages', { session: 'plain' }));
      const s2 = await timed(() => a.ok('send_message', { session: 'sealed', text }));
      const p2 = await timed(() => b.ok<PollOut>('poll_messages', { session: 'sealed' }));
      if (p1.value.messages.length !== 1 || p2.value.messages[0]?.text !== text)
        throw new Error('a poll did not return the one message sent');
      if (!record) return;
      samples.plainSend.record(s1.ms);
      samples.plainPoll.record(p1.ms);
      samples.e2eSend.record(s2.ms);
      samples.e2ePoll.record(p2.ms);
    };
    await bounded({ count: warmup, maxMs: 15_000 }, () => round(false));
    const done = await bounded({ count: iterations, maxMs: ctx.quick ? 12_000 : 90_000 }, () =>
      round(true),
    );
    ctx.log(`  ${done} rounds`);
    const rows: Row[] = [];
    for (const [id, name, sealed, plain] of [
      ['12a', 'send_message, E2E session', samples.e2eSend, samples.plainSend],
      ['12b', 'poll_messages, E2E session (1 new message)', samples.e2ePoll, samples.plainPoll],
    ] as const) {
      const figure = sealed.summary();
      const baseline = plain.summary();
      const ratio = figure.p50 / baseline.p50;
      rows.push({
        id,
        what: name,
        figure: fmtLatency(figure),
        baseline: `plain session ${fmtLatency(baseline)}`,
        ratio: `${fmtRatio(ratio)} (p50)`,
        target: `p50 ≤ ${TARGET}× plain`,
        met: ratio <= TARGET,
        data: { figure, baseline, ratio, p99Ratio: figure.p99 / baseline.p99 },
      });
    }
    return rows;
  } finally {
    await a.close();
    await b.close();
    await relay.close();
  }
};
