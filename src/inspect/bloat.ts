/**
 * How much a rewrite would give back, per table (heap + TOAST) and per index, without any
 * extension and read-only: tables by a bounded page sample (bloat-heap.ts), btree indexes by
 * the statistics-based estimate (bloat-index.ts). A table the role cannot read (no SELECT
 * privilege, row-level security that would filter) falls back to the dead-tuple statistics,
 * and `method` says so.
 */
import type pg from 'pg';
import { quoteQualified } from '../db/ident.js';
import { measureHeap, SAMPLE_PAGES, type HeapMeasure, type IndexKeySample, type KeyMeasure } from './bloat-heap.js';
import { TOAST_POINTER_BYTES } from './bloat-model.js';

export { estimateIndexBloat } from './bloat-index.js';

export interface BloatEstimate {
  oid: number;
  kind: 'table' | 'index';
  /** Heap + TOAST for a table; the index's size for an index. */
  bytes: number;
  /** What a rewrite gives back; null when it cannot be estimated (see method). */
  reclaimableBytes: number | null;
  /** reclaimable / bytes. */
  ratio: number | null;
  pagesRead: number;
  method: string;
  /** Rows visible now (tables: measured or from statistics; indexes: entries expected). */
  liveRows: number | null;
  /** Tables: the btree indexes' entries measured on the sampled rows, by index OID. */
  keys?: Map<number, KeyMeasure>;
}

// Each btree index's columns as SQL over the table's row: pg_get_indexdef prints a column by its
// (quoted) name and an expression in full; the predicate of a partial index likewise.
const KEYS_SQL = `
SELECT i.indexrelid::int8 AS oid, i.indrelid::int8 AS table_oid,
       (SELECT array_agg(pg_get_indexdef(i.indexrelid, k, false) ORDER BY k) FROM generate_series(1, i.indnatts) k) AS expressions,
       pg_get_expr(i.indpred, i.indrelid) AS predicate
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
WHERE i.indrelid = ANY($1::oid[]) AND am.amname = 'btree' AND i.indisvalid`;

interface TableRow {
  oid: string;
  nspname: string;
  relname: string;
  heap_bytes: string;
  toast_bytes: string;
  fillfactor: number | null;
  toast_target: number | null;
  block_size: number;
  version: number;
  readable: boolean;
  n_live_tup: string | null;
  n_dead_tup: string | null;
  reltuples: number;
  columns: { name: string; length: number }[];
}

const TABLES_SQL = `
SELECT c.oid::int8 AS oid, n.nspname, c.relname, pg_relation_size(c.oid)::int8 AS heap_bytes,
       coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0)::int8 AS toast_bytes,
       (SELECT substr(o, 12)::int FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%') AS fillfactor,
       (SELECT split_part(o, '=', 2)::int FROM unnest(c.reloptions) o WHERE o LIKE 'toast_tuple_target=%') AS toast_target,
       current_setting('block_size')::int AS block_size, current_setting('server_version_num')::int AS version,
       -- With row_security = off a read that a policy would filter is an error: such a
       -- table is not sampled (the role neither bypasses RLS nor escapes it as owner).
       has_table_privilege(c.oid, 'SELECT') AND (NOT c.relrowsecurity OR r.rolsuper OR r.rolbypassrls
         OR (NOT c.relforcerowsecurity AND pg_has_role(c.relowner, 'USAGE'))) AS readable,
       s.n_live_tup::int8, s.n_dead_tup::int8, c.reltuples::float8 AS reltuples,
       (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'length', a.attlen) ORDER BY a.attnum), '[]'::json)
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_roles r ON r.rolname = current_user
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.oid = ANY($1::oid[]) AND c.relkind IN ('r', 'm', 't')`;

/**
 * Runs `body` so that its failure leaves the session usable: inside a transaction (show_bloat
 * and --dry-run read in one READ ONLY transaction) under a savepoint rolled back on error;
 * outside one, as it is (each statement its own transaction). In a transaction block a
 * statement starts after its transaction did; alone, both start together.
 */
export async function isolated<T>(client: pg.Client, body: () => Promise<T>): Promise<T> {
  const { rows } = await client.query<{ open: boolean }>(`SELECT transaction_timestamp() <> statement_timestamp() AS open`);
  if (!rows[0]!.open) return body();
  await client.query('SAVEPOINT rpcl_bloat_sample');
  try {
    const result = await body();
    await client.query('RELEASE SAVEPOINT rpcl_bloat_sample');
    return result;
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT rpcl_bloat_sample');
    throw err;
  }
}

function share(part: number, whole: number): number | null {
  return whole > 0 ? part / whole : null;
}

/** Per table: heap and TOAST together, each measured on its own pages. */
export async function estimateTableBloat(client: pg.Client, tableOids: number[]): Promise<Map<number, BloatEstimate>> {
  const out = new Map<number, BloatEstimate>();
  if (tableOids.length === 0) return out;
  const { rows } = await client.query<TableRow>(TABLES_SQL, [tableOids]);
  const keyRows = await client.query<{ oid: string; table_oid: string; expressions: string[]; predicate: string | null }>(KEYS_SQL, [tableOids]);
  for (const t of rows) {
    const oid = Number(t.oid);
    const heapBytes = Number(t.heap_bytes);
    const toastBytes = Number(t.toast_bytes);
    const bytes = heapBytes + toastBytes;
    const blockSize = t.block_size;
    if (!t.readable) {
      out.set(oid, statisticsEstimate(oid, bytes, t));
      continue;
    }
    const target = {
      relation: quoteQualified({ schema: t.nspname, name: t.relname }),
      columns: t.columns,
      pages: Math.floor(heapBytes / blockSize),
      fillfactor: t.fillfactor ?? 100,
      toastTarget: t.toast_target ?? 2032,
      blockSize,
      seed: oid,
      serverVersion: t.version,
    };
    const keys = keyRows.rows.filter((k) => Number(k.table_oid) === oid)
      .map((k): IndexKeySample => ({ oid: Number(k.oid), expressions: k.expressions, predicate: k.predicate }));
    // An index expression may fail to evaluate for this role (a function it may not execute):
    // the table is then sampled without its indexes' entries, and if even that fails, the
    // statistics stand in. One table's failure must not take the whole report down.
    let heap: HeapMeasure;
    try {
      heap = await isolated(client, () => measureHeap(client, { ...target, keys }));
    } catch {
      try {
        heap = await isolated(client, () => measureHeap(client, target));
      } catch (err) {
        out.set(oid, statisticsEstimate(oid, bytes, t, `the sample failed (${(err as Error).message})`));
        continue;
      }
    }
    // The TOAST table is measured through the live rows: each TOAST pointer carries its value's
    // exact stored size, and a rewrite TOASTs the values afresh, row after row, into chunks
    // (bloat-model.ts). Sampling the TOAST table's own pages would see the live chunks but not
    // which value they belong to, and a rewrite's layout depends on that.
    const toastMethod = toastBytes > 0 ? `, TOAST ${Math.floor(toastBytes / blockSize)} pages through the rows' TOAST pointers` : '';
    const neededHeap = heap.neededPages * blockSize;
    const neededToast = heap.toastPages * blockSize;
    const reclaimable = Math.max(0, heapBytes - neededHeap) + Math.max(0, toastBytes - neededToast);
    out.set(oid, {
      oid,
      kind: 'table',
      bytes,
      reclaimableBytes: reclaimable,
      ratio: share(reclaimable, bytes),
      pagesRead: heap.pagesRead,
      method: `page sample: heap ${describeRead(heap, Math.floor(heapBytes / blockSize))}${toastMethod}` +
        `${(t.fillfactor ?? 100) < 100 ? `, fillfactor ${t.fillfactor} kept` : ''}`,
      liveRows: heap.liveRows,
      keys: heap.keys,
    });
  }
  return out;
}

function describeRead(m: HeapMeasure, pages: number): string {
  return m.whole ? `all ${pages} pages` : `${m.pagesRead} of ${pages} pages`;
}

/**
 * A table rpcl may not read: the dead-tuple share of the cumulative statistics, applied to
 * heap and TOAST alike (pg_stats hides the column widths from such a role too).
 */
function statisticsEstimate(
  oid: number, bytes: number, t: TableRow,
  why = 'not readable by this role (no SELECT privilege, or row-level security applies)',
): BloatEstimate {
  const live = t.n_live_tup === null ? null : Number(t.n_live_tup);
  const dead = t.n_dead_tup === null ? null : Number(t.n_dead_tup);
  if (live === null || dead === null || live + dead === 0) {
    return { oid, kind: 'table', bytes, reclaimableBytes: null, ratio: null, pagesRead: 0, method: `unknown: ${why}, and no statistics`, liveRows: live };
  }
  const reclaimable = Math.round((bytes * dead) / (live + dead));
  return {
    oid, kind: 'table', bytes, reclaimableBytes: reclaimable, ratio: share(reclaimable, bytes), pagesRead: 0,
    method: `statistics (dead-tuple share, pg_stat_all_tables): ${why}`, liveRows: live,
  };
}

export { SAMPLE_PAGES, TOAST_POINTER_BYTES };
