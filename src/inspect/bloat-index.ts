/**
 * Index side of the bloat estimate: for btree indexes, the statistics-based estimate (the
 * idea of the classic pg_stats btree bloat query): entry widths from pg_stats avg_width,
 * entries from the table's live rows, leaves at the index's fillfactor (90 by default), and
 * since PostgreSQL 13 equal keys merged into posting lists as a rebuild does. Reads no index
 * page. Other access methods (GiST, GIN, BRIN, hash, SP-GiST) are reported by size with
 * bloat unknown: their page layouts depend on the data in ways statistics do not show.
 */
import type pg from 'pg';
import { estimateTableBloat, type BloatEstimate } from './bloat.js';
import { btreePagesNeeded, type BtreeColumn } from './bloat-model.js';

interface IndexColumn {
  typlen: number;
  typalign: string;
  typname: string;
  typcategory: string;
  deterministic: boolean;
  avg_width: number | null;
  null_frac: number | null;
  n_distinct: number | null;
  name: string;
}

interface IndexRow {
  oid: string;
  table_oid: string;
  relname: string;
  amname: string;
  bytes: string;
  block_size: number;
  unique: boolean;
  partial: boolean;
  key_columns: number;
  fillfactor: number | null;
  dedup_off: boolean;
  index_tuples: number;
  table_tuples: number;
  n_live_tup: string | null;
  version: number;
  columns: IndexColumn[];
}

// Column k of the index is the table's column indkey[k-1], or an expression whose statistics
// ANALYZE keeps under the index's own name. pg_stats shows only what the role may read.
const INDEXES_SQL = `
SELECT i.indexrelid::int8 AS oid, i.indrelid::int8 AS table_oid, ic.relname, am.amname,
       pg_relation_size(i.indexrelid)::int8 AS bytes, current_setting('block_size')::int AS block_size,
       i.indisunique AS unique, i.indpred IS NOT NULL AS partial, i.indnkeyatts::int AS key_columns,
       (SELECT substr(o, 12)::int FROM unnest(ic.reloptions) o WHERE o LIKE 'fillfactor=%') AS fillfactor,
       coalesce((SELECT o IN ('deduplicate_items=off', 'deduplicate_items=false') FROM unnest(ic.reloptions) o WHERE o LIKE 'deduplicate_items=%'), false) AS dedup_off,
       ic.reltuples::float8 AS index_tuples, tc.reltuples::float8 AS table_tuples, s.n_live_tup::int8,
       current_setting('server_version_num')::int AS version,
       (SELECT json_agg(json_build_object(
                 'name', coalesce(ta.attname, ia.attname), 'typlen', t.typlen, 'typalign', t.typalign, 'typname', t.typname,
                 'typcategory', t.typcategory, 'deterministic', coalesce(co.collisdeterministic, true),
                 'avg_width', st.avg_width, 'null_frac', st.null_frac, 'n_distinct', st.n_distinct) ORDER BY k)
          FROM generate_series(1, i.indnatts) k
          JOIN pg_attribute ia ON ia.attrelid = i.indexrelid AND ia.attnum = k
          JOIN pg_type t ON t.oid = ia.atttypid
          LEFT JOIN pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = i.indkey[k - 1] AND i.indkey[k - 1] <> 0
          LEFT JOIN pg_collation co ON co.oid = i.indcollation[k - 1]
          LEFT JOIN pg_stats st ON CASE WHEN ta.attname IS NOT NULL
              THEN st.schemaname = tn.nspname AND st.tablename = tc.relname AND st.attname = ta.attname
              ELSE st.schemaname = n.nspname AND st.tablename = ic.relname AND st.attname = ia.attname END
            AND NOT st.inherited) AS columns
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace tn ON tn.oid = tc.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_stat_all_tables s ON s.relid = i.indrelid
WHERE i.indexrelid = ANY($1::oid[])`;

/** Opclasses whose equality is not bitwise: a btree never deduplicates them. */
const NO_DEDUP_TYPES = new Set(['numeric', 'jsonb', 'float4', 'float8']);

function dedups(r: IndexRow): boolean {
  return r.version >= 130000 && !r.unique && !r.dedup_off && r.key_columns === r.columns.length &&
    r.columns.every((c) => c.deterministic && !NO_DEDUP_TYPES.has(c.typname) && !['A', 'C', 'R'].includes(c.typcategory));
}

function distinctOf(c: IndexColumn, rows: number): number | null {
  if (c.n_distinct === null) return null;
  return c.n_distinct < 0 ? -c.n_distinct * rows : c.n_distinct;
}

/**
 * Per index. `tables`: the tables' own estimates when the caller has them (estimateTableBloat
 * of the indexes' tables); without it they are made here.
 */
export async function estimateIndexBloat(
  client: pg.Client,
  indexOids: number[],
  tables?: ReadonlyMap<number, BloatEstimate>,
): Promise<Map<number, BloatEstimate>> {
  const out = new Map<number, BloatEstimate>();
  if (indexOids.length === 0) return out;
  const { rows } = await client.query<IndexRow>(INDEXES_SQL, [indexOids]);
  // Called alone (repack_indexes), it samples the indexes' tables itself: their rows give the
  // entries (a key sample), at most SAMPLE_PAGES pages each.
  const sampledTables = tables ?? (await estimateTableBloat(client, [...new Set(rows.map((r) => Number(r.table_oid)))]));
  for (const r of rows) {
    const oid = Number(r.oid);
    const bytes = Number(r.bytes);
    const unknown = (why: string): BloatEstimate => ({
      oid, kind: 'index', bytes, reclaimableBytes: null, ratio: null, pagesRead: 0, method: `unknown: ${why}`, liveRows: null,
    });
    if (r.amname !== 'btree') {
      out.set(oid, unknown(`${r.amname} index, only btree indexes are estimated`));
      continue;
    }
    const sampled = sampledTables.get(Number(r.table_oid))?.keys?.get(oid);
    const missing = r.columns.filter((c) => c.typlen < 0 && c.avg_width === null).map((c) => c.name);
    if (missing.length > 0 && sampled === undefined) {
      out.set(oid, unknown(`no statistics for ${missing.join(', ')} (ANALYZE the table, or the role may not read it)`));
      continue;
    }
    const measured = sampledTables.get(Number(r.table_oid))?.liveRows ?? null;
    const tableRows = measured ?? (r.n_live_tup !== null && Number(r.n_live_tup) > 0 ? Number(r.n_live_tup) : Math.max(0, r.table_tuples));
    // A partial index holds a share of the rows that only its own reltuples tells.
    const entries = sampled !== undefined ? sampled.entries : r.partial
      ? r.table_tuples > 0 ? tableRows * Math.min(1, Math.max(0, r.index_tuples) / r.table_tuples) : Math.max(0, r.index_tuples)
      : tableRows;
    const columns: BtreeColumn[] = r.columns.map((c) => ({
      width: c.typlen > 0 ? c.typlen : c.avg_width ?? 0,
      typlen: c.typlen,
      typalign: c.typalign,
      nullFraction: c.null_frac ?? 0,
    }));
    let distinct: number | null = null;
    if (dedups(r)) {
      const each = r.columns.map((c) => distinctOf(c, entries));
      distinct = each.some((d) => d === null) ? null : Math.min(entries, each.reduce((a, b) => a! * b!, 1)!);
    }
    const pages = btreePagesNeeded({
      rows: entries, columns, distinctKeys: distinct, fillfactor: r.fillfactor ?? 90, blockSize: r.block_size,
      ...(sampled !== undefined && sampled.entries > 0 ? { entrySpace: sampled.bytes / sampled.entries } : {}),
    });
    const reclaimable = Math.max(0, bytes - pages * r.block_size);
    out.set(oid, {
      oid, kind: 'index', bytes, reclaimableBytes: reclaimable, ratio: bytes > 0 ? reclaimable / bytes : null, pagesRead: 0,
      method: sampled !== undefined
        ? `btree key sample (entries measured on the table's sampled rows${distinct !== null && distinct < entries ? ', duplicates merged by pg_stats n_distinct' : ''})`
        : `btree statistics (pg_stats widths, ${measured !== null ? 'sampled' : 'statistics'} row count${distinct !== null && distinct < entries ? ', deduplicated' : ''})`,
      liveRows: Math.round(entries),
    });
  }
  return out;
}
