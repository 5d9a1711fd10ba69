/**
 * `npm run bench [-- --quick] [-- --only 1,4] [-- --profile] [-- --write-md]`
 *
 * Runs every benchmark against its baseline measured in the same run, prints one table, and
 * writes bench/results.json (bench/results-quick.json for --quick). Relays run in child
 * processes on 127.0.0.1, port 0; MCP servers are the built dist/cli.js over stdio. Every loop
 * is bounded in count and time. Exits 1 only when a benchmark could not run: missed targets are
 * reported, not failed (benchmarks are not tests).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { coldStart } from './benchmarks/cold-start.ts';
import { delivery } from './benchmarks/delivery.ts';
import { e2eLatency } from './benchmarks/e2e-latency.ts';
import { e2eSize } from './benchmarks/e2e-size.ts';
import { fanOut } from './benchmarks/fan-out.ts';
import { growth } from './benchmarks/growth.ts';
import { mcpVsRaw } from './benchmarks/mcp-vs-raw.ts';
import { pollAll } from './benchmarks/poll-all.ts';
import { relayMemory } from './benchmarks/relay-memory.ts';
import { scriptClients } from './benchmarks/script-clients.ts';
import { stores } from './benchmarks/stores.ts';
import { throughput } from './benchmarks/throughput.ts';
import { closeAllMcp } from './lib/mcp.ts';
import { killRelayChildren } from './lib/relay.ts';
import {
  type Benchmark,
  type Context,
  failedRow,
  machine,
  notes,
  type Row,
  table,
  writeResults,
} from './lib/report.ts';
import { assertBuilt, ROOT, withTimeout } from './lib/util.ts';

const BENCHMARKS: { n: number; name: string; run: Benchmark; quickS: number; fullS: number }[] = [
  { n: 1, name: 'MCP tools vs raw HTTP', run: mcpVsRaw, quickS: 40, fullS: 180 },
  { n: 2, name: 'delivery latency', run: delivery, quickS: 40, fullS: 240 },
  { n: 3, name: 'curl | jq script clients', run: scriptClients, quickS: 30, fullS: 90 },
  { n: 4, name: 'relay throughput (autocannon)', run: throughput, quickS: 30, fullS: 90 },
  { n: 5, name: 'long-poll fan-out', run: fanOut, quickS: 30, fullS: 90 },
  { n: 6, name: 'growth', run: growth, quickS: 40, fullS: 180 },
  { n: 7, name: 'MCP cold start and RSS', run: coldStart, quickS: 40, fullS: 120 },
  { n: 8, name: 'poll_messages over 100 sessions', run: pollAll, quickS: 40, fullS: 150 },
  { n: 9, name: 'relay memory', run: relayMemory, quickS: 40, fullS: 120 },
  { n: 10, name: 'relay stores vs a Hono floor', run: stores, quickS: 90, fullS: 240 },
  { n: 11, name: 'E2E envelope size', run: e2eSize, quickS: 20, fullS: 60 },
  { n: 12, name: 'E2E send and poll vs plain', run: e2eLatency, quickS: 40, fullS: 150 },
];

function parseArgs(argv: string[]) {
  const only = new Set<number>();
  const onlyIndex = argv.findIndex((arg) => arg === '--only' || arg.startsWith('--only='));
  if (onlyIndex >= 0) {
    const arg = argv[onlyIndex] as string;
    const list = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : (argv[onlyIndex + 1] ?? '');
    for (const part of list.split(',')) if (part.trim()) only.add(Number(part));
  }
  for (const arg of argv) {
    if (arg.startsWith('--') && !/^--(quick|profile|write-md|only)(=.*)?$/.test(arg)) {
      throw new Error(`unknown option ${arg} (use --quick, --only 1,4, --profile, --write-md)`);
    }
  }
  return {
    quick: argv.includes('--quick'),
    profile: argv.includes('--profile'),
    writeMd: argv.includes('--write-md'),
    only,
  };
}

/** Replaces the generated part of BENCHMARKS.md (between its markers) with this run. */
function updateBenchmarksMd(section: string): void {
  const file = join(ROOT, 'BENCHMARKS.md');
  const text = readFileSync(file, 'utf8');
  const begin = '<!-- bench:begin -->';
  const end = '<!-- bench:end -->';
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error('BENCHMARKS.md has no bench:begin/bench:end markers');
  writeFileSync(file, `${text.slice(0, from + begin.length)}\n${section}\n${text.slice(to)}`);
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  assertBuilt();
  const started = Date.now();
  const m = machine();
  const mode = args.quick ? 'quick' : 'full';
  console.log(
    `nexus-messaging-mcp benchmarks (${mode}) — Node ${m.node}, ${m.cpuCount} × ${m.cpuModel}, ${m.platform}`,
  );
  const ctx: Context = {
    quick: args.quick,
    profile: args.profile,
    log: (line) => console.log(line),
    shared: new Map(),
  };
  const rows: Row[] = [];
  let failures = 0;
  for (const benchmark of BENCHMARKS) {
    if (args.only.size > 0 && !args.only.has(benchmark.n)) continue;
    console.log(`[${benchmark.n}] ${benchmark.name}…`);
    const t0 = performance.now();
    try {
      const limit = (args.quick ? benchmark.quickS : benchmark.fullS) * 1000;
      rows.push(...(await withTimeout(benchmark.name, benchmark.run(ctx), limit)));
    } catch (error) {
      failures++;
      rows.push(failedRow(String(benchmark.n), benchmark.name, error));
      // A benchmark cut short may leave its processes behind: end them before the next.
      await closeAllMcp();
      killRelayChildren();
    }
    console.log(`    ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const durationMs = Date.now() - started;
  const rendered = table(rows);
  const rowNotes = notes(rows);
  console.log(`\n${rendered}\n`);
  if (rowNotes) console.log(`Notes:\n${rowNotes}\n`);
  const missed = rows.filter((row) => row.met === false).map((row) => row.id);
  console.log(
    `${rows.length} rows in ${(durationMs / 1000).toFixed(0)} s; targets missed: ${missed.length ? missed.join(', ') : 'none'}`,
  );

  const file = join(ROOT, 'bench', args.quick ? 'results-quick.json' : 'results.json');
  writeResults(file, { mode, startedAt: new Date(started).toISOString(), durationMs, rows });
  console.log(`wrote ${file.slice(ROOT.length + 1)}`);
  if (args.writeMd) {
    const when = new Date(started).toISOString().slice(0, 16).replace('T', ' ');
    updateBenchmarksMd(
      [
        `Run: ${when} UTC, ${mode} mode, ${(durationMs / 1000).toFixed(0)} s — Node ${m.node}, ${m.platform}, ${m.cpuCount} × ${m.cpuModel}, ${(m.memoryBytes / 1024 ** 3).toFixed(0)} GiB.`,
        '',
        rendered,
        ...(rowNotes ? ['', 'Notes from the run:', '', rowNotes] : []),
      ].join('\n'),
    );
    console.log('updated BENCHMARKS.md');
  }
  return failures > 0 ? 1 : 0;
}

const cleanUp = async () => {
  await closeAllMcp();
  killRelayChildren();
};
process.once('SIGINT', () => {
  void cleanUp().finally(() => process.exit(130));
});

main()
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    return 1;
  })
  .then(async (code) => {
    await cleanUp();
    process.exit(code);
  });
