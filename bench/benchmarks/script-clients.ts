/**
 * 3: send and poll the way shell-script clients do it: one `curl` process per request, its
 * output piped through `jq`. Compared with benchmark 1's MCP figures.
 */
import { spawn, spawnSync } from 'node:child_process';
import { type RawAgent, RawHttp } from '../lib/http.ts';
import { startRelayChild } from '../lib/relay.ts';
import { type Benchmark, failedRow, fmtLatency, fmtRatio, type Row } from '../lib/report.ts';
import { Samples, type Summary, timed } from '../lib/stats.ts';
import { bounded, filler, withTimeout } from '../lib/util.ts';

function has(command: string): boolean {
  const probe = spawnSync(command, ['--version'], { stdio: 'ignore' });
  return !probe.error && probe.status === 0;
}

/** `curl … | jq …`: two processes, a pipe between them; resolves with jq's output. */
function curlJq(curlArgs: string[], jqArgs: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const curl = spawn('curl', ['-sS', '--fail-with-body', ...curlArgs], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const jq = spawn('jq', jqArgs, { stdio: [curl.stdout, 'pipe', 'inherit'] });
    let out = '';
    jq.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    let curlCode: number | null = null;
    curl.on('close', (code) => {
      curlCode = code;
    });
    curl.on('error', reject);
    jq.on('error', reject);
    jq.on('close', (code) => {
      if (code !== 0 || (curlCode !== null && curlCode !== 0)) {
        reject(new Error(`curl exited ${curlCode}, jq exited ${code}`));
      } else resolve(out.trim());
    });
  });
}

export const scriptClients: Benchmark = async (ctx) => {
  const missing = ['curl', 'jq'].filter((command) => !has(command));
  if (missing.length > 0) {
    return [
      failedRow(
        '3',
        'send + poll with curl | jq',
        `skipped: ${missing.join(' and ')} not found`,
        true,
      ),
    ];
  }
  const relay = await startRelayChild();
  const http = new RawHttp(relay.url);
  try {
    const a: RawAgent = await http.createSession('script-a');
    const b: RawAgent = await http.join(a.sessionId, 'script-b');
    const base = `${relay.url}/v1/sessions/${a.sessionId}/messages`;
    const body = JSON.stringify({ text: filler(100) });
    let cursor = '0';
    const send = new Samples();
    const poll = new Samples();
    const round = async (record: boolean) => {
      const s = await timed(() =>
        curlJq(
          [
            '-X',
            'POST',
            '-H',
            'content-type: application/json',
            '-H',
            `x-agent-id: ${a.agentId}`,
            '-H',
            `x-session-key: ${a.sessionKey}`,
            '--data-binary',
            body,
            base,
          ],
          ['-r', '.cursor'],
        ),
      );
      const p = await timed(() =>
        curlJq(
          ['-H', `x-agent-id: ${b.agentId}`, `${base}?after=${cursor}`],
          ['-r', '.nextCursor, (.messages | length)'],
        ),
      );
      const [next, count] = p.value.split('\n');
      if (count !== '1' || !next) throw new Error(`curl | jq poll returned ${p.value}`);
      cursor = next;
      if (!record) return;
      send.record(s.ms);
      poll.record(p.ms);
    };
    await bounded({ count: 5, maxMs: 10_000 }, () =>
      withTimeout('curl | jq', round(false), 10_000),
    );
    const done = await bounded(
      { count: ctx.quick ? 30 : 200, maxMs: ctx.quick ? 10_000 : 60_000 },
      () => withTimeout('curl | jq', round(true), 10_000),
    );
    ctx.log(`  ${done} rounds`);
    const rows: Row[] = [];
    for (const [id, what, samples, key] of [
      ['3a', 'send: one curl | jq per request', send, 'mcp-send'],
      ['3b', 'poll: one curl | jq per request', poll, 'mcp-poll'],
    ] as const) {
      const figure = samples.summary();
      const mcp: Summary | undefined = ctx.shared.get(key);
      const ratio = mcp ? figure.p50 / mcp.p50 : Number.NaN;
      rows.push({
        id,
        what,
        figure: fmtLatency(figure),
        baseline: mcp ? `benchmark 1 (MCP) ${fmtLatency(mcp)}` : 'benchmark 1 not run',
        ratio: mcp ? `${fmtRatio(ratio)} slower (p50)` : '—',
        target: 'reported',
        met: null,
        data: { figure, baseline: mcp ?? null, ratio: mcp ? ratio : null },
      });
    }
    return rows;
  } finally {
    await http.close();
    await relay.close();
  }
};
