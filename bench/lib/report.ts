/** Rows, the printed table and bench/results.json. */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import type { Summary } from './stats.ts';

export interface Row {
  /** Benchmark number and letter, e.g. "1a". */
  id: string;
  what: string;
  figure: string;
  baseline: string;
  /** How the figure compares with its baseline, e.g. "1.21×" or "+0.8 ms". */
  ratio: string;
  target: string;
  /** null: no target (informational) or skipped. */
  met: boolean | null;
  note?: string;
  /** The numbers behind the strings, for results.json. */
  data: Record<string, unknown>;
}

export interface Context {
  quick: boolean;
  /** Write CPU profiles of the processes under test into bench/ (--profile). */
  profile: boolean;
  log(line: string): void;
  /** Figures earlier benchmarks left for later ones (benchmark 3 compares with benchmark 1). */
  shared: Map<string, Summary>;
}

export type Benchmark = (ctx: Context) => Promise<Row[]>;

const num = (value: number, digits = 2): string =>
  Number.isFinite(value) ? value.toFixed(digits) : 'n/a';

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

export function fmtLatency(summary: Summary): string {
  return `p50 ${fmtMs(summary.p50)} · p99 ${fmtMs(summary.p99)} · n=${summary.count}`;
}

export function fmtRatio(ratio: number): string {
  return `${num(ratio)}×`;
}

export function fmtDelta(ms: number): string {
  return `${ms >= 0 ? '+' : '−'}${fmtMs(Math.abs(ms))}`;
}

export function fmtBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (Math.abs(bytes) >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  if (Math.abs(bytes) >= 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${bytes.toFixed(0)} B`;
}

export function fmtCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** A row for a benchmark that could not run, or failed. */
export function failedRow(id: string, what: string, error: unknown, skipped = false): Row {
  const message = error instanceof Error ? error.message : String(error);
  return {
    id,
    what,
    figure: skipped ? 'skipped' : 'failed',
    baseline: '—',
    ratio: '—',
    target: '—',
    met: skipped ? null : false,
    note: message,
    data: { error: message, skipped },
  };
}

const metText = (met: boolean | null): string => (met === null ? '—' : met ? 'yes' : '**no**');

/** A Markdown table: readable in a terminal and pasted as is into BENCHMARKS.md. */
export function table(rows: readonly Row[]): string {
  const header = ['#', 'what', 'figure', 'baseline (same run)', 'ratio', 'target', 'met'];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 || i === 6 ? '---' : '---')).join('|')}|`,
  ];
  for (const row of rows) {
    const cells = [
      row.id,
      row.what,
      row.figure,
      row.baseline,
      row.ratio,
      row.target,
      metText(row.met),
    ];
    lines.push(`| ${cells.map((cell) => cell.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function notes(rows: readonly Row[]): string {
  return rows
    .filter((row) => row.note)
    .map((row) => `- ${row.id}: ${row.note}`)
    .join('\n');
}

export function machine() {
  const list = cpus();
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpuCount: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryBytes: totalmem(),
  };
}

export function writeResults(
  file: string,
  run: { mode: 'full' | 'quick'; startedAt: string; durationMs: number; rows: readonly Row[] },
): void {
  const body = {
    ...run,
    machine: machine(),
    rows: run.rows.map((row) => ({ ...row })),
  };
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
}
