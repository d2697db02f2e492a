/** The benchmark's printed tables: every run, the medians with --repeat, and the ratios between tools. */
import type { LatencyStats } from '../demo/writers.js';
import type { Options } from './options.js';
import type { Tool } from './tools.js';

export interface Result {
  tool: Tool;
  /** The tool, or rpcl[<variant>]. */
  label: string;
  rows: number;
  writers: number;
  wallSeconds: number;
  before: LatencyStats;
  during: LatencyStats;
  sizeBefore: number;
  sizeAfter: number;
  dataEqual: boolean;
  walBytes: number;
  peakWalBytesPerSecond: number;
  worstXactAgeSeconds: number;
  oldestSnapshotSeconds: number;
  peakLogBytes?: number;
  writerErrors: number;
  /** The reader through the view: its worst latency while the tool ran, and every error it saw. */
  readerWorst: number;
  readerErrors: string[];
}

const MiB = 1024 * 1024;
const mb = (n: number) => `${(n / MiB).toFixed(1)} MB`;
const mib = (n: number) => (n / MiB).toFixed(1);
const ms = (n: number) => `${n.toFixed(1)}`;
// Two decimals: the samples are 100 ms apart, and a short transaction must not print as none.
const secs = (n: number) => n.toFixed(2);

export function print(results: Result[], o: Options): void {
  if (o.uniqueForExclude) console.log('variant: the EXCLUDE constraint replaced by a UNIQUE index on the same column');
  console.log(
    o.rate > 0
      ? `writers: ${o.rate} transactions/s each, latency counted from when each transaction was due`
      : 'writers: back to back, as fast as each can go',
  );
  for (const r of o.runs) if (r.keys.size > 0) console.log(`${r.label}: ${[...r.keys].map(([k, v]) => `${k}=${v}`).join(', ')}`);
  const header = [
    'tool', 'rows', 'writers', 'wall s', 'p50 ms', 'p99 ms', 'worst ms', 'worst before ms', 'w/s before', 'w/s during', 'during/before',
    'reader worst ms', 'app errors', 'size before', 'size after', 'equal', 'WAL MB', 'peak WAL MB/s', 'worst xact age s', 'oldest snap s', 'peak log',
  ];
  const lines = results.map((r) => [
    r.label, String(r.rows), String(r.writers), r.wallSeconds.toFixed(1), ms(r.during.p50), ms(r.during.p99), ms(r.during.worst),
    ms(r.before.worst),
    r.before.perSecond.toFixed(0), r.during.perSecond.toFixed(0),
    r.writers === 0 ? '-' : `${((100 * r.during.perSecond) / Math.max(1, r.before.perSecond)).toFixed(0)}%`,
    r.writers === 0 ? '-' : ms(r.readerWorst), String(r.writerErrors + r.readerErrors.length),
    mb(r.sizeBefore), mb(r.sizeAfter), r.dataEqual ? 'yes' : 'NO', mib(r.walBytes), mib(r.peakWalBytesPerSecond),
    secs(r.worstXactAgeSeconds), secs(r.oldestSnapshotSeconds), r.peakLogBytes === undefined ? '-' : mb(r.peakLogBytes),
  ]);
  printTable(header, lines);
  if (o.repeat > 1) printSummary(results, o);
  printRatios(results, o);
}

function printRatios(results: Result[], o: Options): void {
  const rpclLabels = o.runs.filter((r) => r.tool === 'rpcl').map((r) => r.label);
  const of = o.repeat > 1 ? ` (medians of ${o.repeat} runs)` : '';
  for (const rows of new Set(results.map((r) => r.rows))) {
    for (const writers of new Set(results.map((r) => r.writers))) {
      const get = (label: string) => summary(results.filter((r) => r.label === label && r.rows === rows && r.writers === writers));
      const [b, f] = [get('pg_repack'), get('sql_floor')];
      const rpcls = rpclLabels.map((label) => ({ label, a: get(label) })).filter((x) => x.a !== undefined);
      if (b) {
        for (const { label, a } of rpcls) {
          console.log(
            `${label} / pg_repack (${rows} rows, ${writers} writers)${of}: wall ${(a!.wall / b.wall).toFixed(2)}, ` +
              `worst stall ${(a!.worst / Math.max(0.001, b.worst)).toFixed(2)}, size after ${(a!.sizeAfter / b.sizeAfter).toFixed(3)}`,
          );
        }
      }
      if (f && (rpcls.length > 0 || b)) {
        console.log(
          `plain-SQL floor (${rows} rows, ${writers} writers)${of}: ${f.wall.toFixed(2)} s` +
            (b ? `, floor / pg_repack ${(f.wall / b.wall).toFixed(2)}` : '') +
            rpcls.map(({ label, a }) => `, ${label} / floor ${(a!.wall / f.wall).toFixed(2)}`).join(''),
        );
      }
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Medians (and extremes) of one entry's runs in one cell; undefined when it did not run. */
function summary(runs: Result[]) {
  if (runs.length === 0) return undefined;
  const of = (f: (r: Result) => number) => runs.map(f);
  return {
    runs: runs.length,
    wall: median(of((r) => r.wallSeconds)),
    wallMin: Math.min(...of((r) => r.wallSeconds)),
    wallMax: Math.max(...of((r) => r.wallSeconds)),
    p99: median(of((r) => r.during.p99)),
    worst: median(of((r) => r.during.worst)),
    worstMax: Math.max(...of((r) => r.during.worst)),
    ratio: median(of((r) => (100 * r.during.perSecond) / Math.max(1, r.before.perSecond))),
    sizeAfter: median(of((r) => r.sizeAfter)),
    xactAge: median(of((r) => r.worstXactAgeSeconds)),
    xactAgeMax: Math.max(...of((r) => r.worstXactAgeSeconds)),
    wal: median(of((r) => r.walBytes)),
    walRate: median(of((r) => r.peakWalBytesPerSecond)),
    walRateMax: Math.max(...of((r) => r.peakWalBytesPerSecond)),
  };
}

function printSummary(results: Result[], o: Options): void {
  console.log(`\nmedians of ${o.repeat} runs (range in brackets)`);
  const header = ['tool', 'rows', 'writers', 'wall s', 'p99 ms', 'worst ms', 'during/before', 'size after', 'worst xact age s', 'WAL MB', 'peak WAL MB/s'];
  const lines: string[][] = [];
  for (const rows of o.rows) {
    for (const writers of o.writers) {
      for (const { label } of o.runs) {
        const s = summary(results.filter((r) => r.label === label && r.rows === rows && r.writers === writers));
        if (!s) continue;
        lines.push([
          label, String(rows), String(writers), `${s.wall.toFixed(2)} (${s.wallMin.toFixed(2)}-${s.wallMax.toFixed(2)})`,
          writers === 0 ? '-' : ms(s.p99), writers === 0 ? '-' : `${ms(s.worst)} (max ${ms(s.worstMax)})`,
          writers === 0 ? '-' : `${s.ratio.toFixed(0)}%`, mb(s.sizeAfter),
          `${secs(s.xactAge)} (max ${secs(s.xactAgeMax)})`, mib(s.wal), `${mib(s.walRate)} (max ${mib(s.walRateMax)})`,
        ]);
      }
    }
  }
  printTable(header, lines);
}

function printTable(header: string[], lines: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
}
