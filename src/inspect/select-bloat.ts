/**
 * The selected tables' bloat by the sampling estimate (inspect/bloat.ts): per table its heap
 * and TOAST, and every index of it, summed into what a repack would give back. Used to order
 * a run, to apply the thresholds and by show_bloat.
 */
import type pg from 'pg';
import { estimateIndexBloat, estimateTableBloat, type BloatEstimate } from './bloat.js';

export interface CandidateBloat {
  table: BloatEstimate;
  indexes: (BloatEstimate & { name: string })[];
  /** Table + indexes; null when the table's own is unknown (unknown indexes count 0, see indexUnknown). */
  reclaimableBytes: number | null;
  /** Indexes whose bloat is unknown (non-btree, no statistics). */
  indexUnknown: number;
  pagesRead: number;
}

export async function bloatOfTables(client: pg.Client, oids: number[]): Promise<Map<number, CandidateBloat>> {
  const out = new Map<number, CandidateBloat>();
  if (oids.length === 0) return out;
  const tables = await estimateTableBloat(client, oids);
  const idx = await client.query<{ oid: string; table_oid: string; relname: string }>(
    `SELECT i.indexrelid::int8 AS oid, i.indrelid::int8 AS table_oid, c.relname
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = ANY($1::oid[]) ORDER BY c.relname`,
    [oids],
  );
  const indexes = await estimateIndexBloat(client, idx.rows.map((r) => Number(r.oid)), tables);
  for (const oid of oids) {
    const table = tables.get(oid);
    if (table === undefined) continue;
    const own = idx.rows
      .filter((r) => Number(r.table_oid) === oid)
      .map((r) => ({ ...indexes.get(Number(r.oid))!, name: r.relname }))
      .filter((e) => e.oid !== undefined);
    const known = own.filter((e) => e.reclaimableBytes !== null);
    out.set(oid, {
      table,
      indexes: own,
      reclaimableBytes: table.reclaimableBytes === null ? null : table.reclaimableBytes + known.reduce((a, e) => a + e.reclaimableBytes!, 0),
      indexUnknown: own.length - known.length,
      pagesRead: table.pagesRead + own.reduce((a, e) => a + e.pagesRead, 0),
    });
  }
  return out;
}
