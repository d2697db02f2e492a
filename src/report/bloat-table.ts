/** show_bloat's output: an aligned text table per connection, or JSON (snake_case, stable names). */
import { formatBytes } from './log-events.js';
import { percent } from '../plan/bloat-threshold.js';

export interface BloatIndexRow {
  index: string;
  oid: number;
  bytes: number;
  reclaimable_bytes: number | null;
  ratio: number | null;
  method: string;
}

export interface BloatTableRow {
  table: string;
  oid: number;
  total_bytes: number;
  heap_bytes: number;
  toast_bytes: number;
  index_bytes: number;
  /** Heap and TOAST. */
  table_reclaimable_bytes: number | null;
  /** The indexes whose bloat is known. */
  index_reclaimable_bytes: number | null;
  /** What a repack gives back: table and indexes. */
  reclaimable_bytes: number | null;
  ratio: number | null;
  live_tuples: number | null;
  dead_tuples: number | null;
  last_vacuum: string | null;
  last_autovacuum: string | null;
  method: string;
  pages_read: number;
  repackable: boolean;
  refusal: string | null;
  /** pass, skip (below the thresholds) or named (below, but named in tables: repacked). */
  threshold: 'pass' | 'skip' | 'named';
  below_threshold: string | null;
  indexes: BloatIndexRow[];
}

export interface BloatReport {
  connection: string;
  min_bloat_ratio: number;
  min_bloat_bytes: number;
  pages_read: number;
  tables: BloatTableRow[];
  missing: { table: string; reason: string }[];
}

export function renderBloatJson(reports: BloatReport[]): string {
  return JSON.stringify(reports, null, 2);
}

const bytes = (n: number | null) => (n === null ? 'unknown' : formatBytes(n));
const when = (iso: string | null) => (iso === null ? 'never' : `${iso.slice(0, 16).replace('T', ' ')} UTC`);

function repackCell(t: BloatTableRow): string {
  if (!t.repackable) return `no: ${t.refusal}`;
  if (t.threshold === 'skip') return `skipped: below thresholds (${t.below_threshold})`;
  if (t.threshold === 'named') return 'yes (named in tables; below thresholds)';
  return 'yes';
}

export function renderBloatText(reports: BloatReport[]): string {
  const out: string[] = [];
  const head = ['table / index', 'size', 'table bloat', 'index bloat', 'repack gives back', 'dead tuples', 'last vacuum', 'last autovacuum', 'pages read', 'can repack'];
  for (const r of reports) {
    out.push(`connection ${r.connection}: ${r.tables.length} tables, thresholds min_bloat_ratio ${r.min_bloat_ratio}, ` +
      `min_bloat_bytes ${formatBytes(r.min_bloat_bytes)}; the estimate read ${r.pages_read} pages (${formatBytes(r.pages_read * 8192)} at 8 kB)`);
    const rows: string[][] = [];
    const notes: string[] = [];
    for (const t of r.tables) {
      rows.push([
        t.table, formatBytes(t.total_bytes), bytes(t.table_reclaimable_bytes), bytes(t.index_reclaimable_bytes),
        t.reclaimable_bytes === null ? 'unknown' : `${formatBytes(t.reclaimable_bytes)} (${percent(t.ratio)})`,
        t.dead_tuples === null ? '-' : String(t.dead_tuples), when(t.last_vacuum), when(t.last_autovacuum), String(t.pages_read), repackCell(t),
      ]);
      notes.push(`  ${t.table}: ${t.method}`);
      for (const i of t.indexes) {
        rows.push([`  index ${i.index}`, formatBytes(i.bytes), '', i.reclaimable_bytes === null ? 'unknown' : `${formatBytes(i.reclaimable_bytes)} (${percent(i.ratio)})`, '', '', '', '', '', '']);
        // The usual method goes without saying; statistics-only and unknown ones are named.
        if (!i.method.startsWith('btree key sample')) notes.push(`  index ${i.index}: ${i.method}`);
      }
    }
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    const line = (v: string[]) => v.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
    out.push(line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line));
    for (const m of r.missing) out.push(`${m.table}: ${m.reason}`);
    if (notes.length > 0) out.push('how each was estimated:', ...notes);
  }
  return out.join('\n');
}
