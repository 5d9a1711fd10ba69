/**
 * 10: E2E envelope size. The wire body of an encrypted message (`{"text":"nxe1.…"}`) against
 * the same plaintext sent plain, for 100 B, 1 KiB and 16 KiB of text, with the time to seal and
 * open one envelope of that size. Sizes are exact, not sampled; the target is that the largest
 * allowed plaintext still fits a relay's 32 KiB message limit.
 */
import type * as E2eModule from '../../src/protocol/e2e/index.js';
import { type Benchmark, fmtBytes, fmtMs, fmtRatio, type Row } from '../lib/report.ts';
import { Samples } from '../lib/stats.ts';
import { bounded, filler, importDist } from '../lib/util.ts';

const RELAY_LIMIT = 32 * 1024;
const SESSION_ID = '0'.repeat(48);
const SENDER = 'agent-bench';

export const e2eSize: Benchmark = async (ctx) => {
  const e2e = await importDist<typeof E2eModule>('protocol/e2e/index.js');
  const key = e2e.E2eKey.generate();
  const rounds = ctx.quick ? 200 : 2_000;
  const sizes: [string, string, number][] = [
    ['11a', '100 B', 100],
    ['11b', '1 KiB', 1024],
    // The cap counts the JSON {"text": …}: the largest text that fits it.
    ['11c', '16 KiB', e2e.MAX_E2E_PLAINTEXT_BYTES - JSON.stringify({ text: '' }).length],
  ];
  const rows: Row[] = [];
  for (const [id, label, chars] of sizes) {
    const text = filler(chars);
    const plainBytes = Buffer.byteLength(JSON.stringify({ text }));
    const samples = new Samples();
    let envelope = '';
    await bounded({ count: rounds, maxMs: ctx.quick ? 3_000 : 15_000 }, async (i) => {
      const start = performance.now();
      envelope = e2e.sealEnvelope({
        key,
        sessionId: SESSION_ID,
        senderAgentId: SENDER,
        kind: 'message',
        seq: i + 1,
        payload: { text },
      });
      const opened = e2e.openEnvelope({
        text: envelope,
        sessionId: SESSION_ID,
        senderAgentId: SENDER,
        key,
      });
      samples.record(performance.now() - start);
      if (!opened.ok || opened.payload.text !== text)
        throw new Error(`${label}: envelope did not open`);
    });
    const wireBytes = Buffer.byteLength(JSON.stringify({ text: envelope }));
    const time = samples.summary();
    samples.destroy();
    rows.push({
      id,
      what: `E2E envelope size, ${label} text`,
      figure: `${fmtBytes(wireBytes)} body; seal+open p50 ${fmtMs(time.p50)}`,
      baseline: `${fmtBytes(plainBytes)} plain body`,
      ratio: `${fmtRatio(wireBytes / plainBytes)} (+${fmtBytes(wireBytes - plainBytes)})`,
      target: `≤ ${fmtBytes(RELAY_LIMIT)} (relay limit)`,
      met: wireBytes <= RELAY_LIMIT,
      data: { plainBytes, wireBytes, ratio: wireBytes / plainBytes, sealOpen: time },
    });
  }
  return rows;
};
