/**
 * `show_bloat`: for the tables a repack_tables of each connection would select (and their
 * indexes), sizes, estimated bloat, what a repack gives back, vacuum history, dead tuples, the
 * estimate's method and cost, and whether rpcl can repack the table (or why not). Everything
 * is read in one READ ONLY transaction: no helper schema, nothing created.
 */
import type pg from 'pg';
import { connect } from '../db/connect.js';
import { displayQualified } from '../db/ident.js';
import { ExitCode } from '../errors.js';
import { readCircumstances } from '../inspect/circumstances.js';
import { describeMissing, selectTables, type Candidate } from '../inspect/select.js';
import { inspectTable } from '../inspect/table.js';
import { bloatRatioOf, decideThreshold } from '../plan/bloat-threshold.js';
import { refusalReason } from '../plan/refusals.js';
import { renderBloatJson, renderBloatText, type BloatReport, type BloatTableRow } from '../report/bloat-table.js';
import type { Runtime } from './runtime.js';
import { figuresOf } from './thresholds.js';

interface VacuumRow {
  oid: string;
  n_live_tup: string | null;
  n_dead_tup: string | null;
  last_vacuum: Date | null;
  last_autovacuum: Date | null;
  toast_bytes: string;
}

async function vacuumFacts(client: pg.Client, oids: number[]): Promise<Map<number, VacuumRow>> {
  const { rows } = await client.query<VacuumRow>(
    `SELECT c.oid::int8 AS oid, s.n_live_tup::int8, s.n_dead_tup::int8, s.last_vacuum, s.last_autovacuum,
            coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0)::int8 AS toast_bytes
     FROM pg_class c LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid WHERE c.oid = ANY($1::oid[])`,
    [oids],
  );
  return new Map(rows.map((r) => [Number(r.oid), r]));
}

const num = (v: string | null | undefined) => (v === null || v === undefined ? null : Number(v));

async function tableRow(client: pg.Client, c: Candidate, v: VacuumRow | undefined, conn: Runtime['connections'][number]): Promise<BloatTableRow> {
  const facts = await inspectTable(client, c.oid);
  const refusal = facts === null ? 'the table no longer exists' : refusalReason(facts, await readCircumstances(client, facts.schema));
  const figures = figuresOf(c);
  const decision = decideThreshold(figures, conn, c.namedDirectly === true);
  const b = c.bloat;
  return {
    table: displayQualified(c),
    oid: c.oid,
    total_bytes: c.totalBytes,
    heap_bytes: c.heapBytes,
    toast_bytes: num(v?.toast_bytes) ?? 0,
    index_bytes: c.indexBytes,
    table_reclaimable_bytes: b?.table.reclaimableBytes ?? null,
    index_reclaimable_bytes: b ? b.indexes.reduce((a, i) => a + (i.reclaimableBytes ?? 0), 0) : null,
    reclaimable_bytes: figures.reclaimableBytes,
    ratio: bloatRatioOf(figures),
    live_tuples: num(v?.n_live_tup),
    dead_tuples: num(v?.n_dead_tup),
    last_vacuum: v?.last_vacuum ? new Date(v.last_vacuum).toISOString() : null,
    last_autovacuum: v?.last_autovacuum ? new Date(v.last_autovacuum).toISOString() : null,
    method: b?.table.method ?? 'statistics',
    pages_read: b?.pagesRead ?? 0,
    repackable: refusal === null,
    refusal,
    threshold: decision.verdict,
    below_threshold: decision.verdict === 'pass' ? null : decision.below,
    indexes: (b?.indexes ?? []).map((i) => ({
      index: i.name, oid: i.oid, bytes: i.bytes, reclaimable_bytes: i.reclaimableBytes, ratio: i.ratio, method: i.method,
    })),
  };
}

export async function showBloat(rt: Runtime, json: boolean): Promise<number> {
  let code: number = ExitCode.ok;
  const reports: BloatReport[] = [];
  for (const conn of rt.connections) {
    const client = await connect(conn, { home: rt.home, applicationName: 'rpcl show_bloat' });
    try {
      // Read-only, one statement per transaction: each table's sample holds its ACCESS SHARE
      // lock and its snapshot only while it reads, not for the whole report (an application's
      // ALTER TABLE would otherwise queue behind the report, and every query behind that).
      await client.query(`SET default_transaction_read_only = on`);
      const selection = await selectTables(client, conn.schemas, conn.tables, { sample: true });
      if (selection.sampleError) process.stderr.write(`rpcl: ${conn.name}: warning: ${selection.sampleError}\n`);
      const vac = await vacuumFacts(client, selection.candidates.map((c) => c.oid));
      const tables: BloatTableRow[] = [];
      for (const c of selection.candidates) tables.push(await tableRow(client, c, vac.get(c.oid), conn));
      if (selection.missing.length > 0) code = ExitCode.refused;
      reports.push({
        connection: conn.name,
        min_bloat_ratio: conn.minBloatRatio,
        min_bloat_bytes: conn.minBloatBytes,
        pages_read: tables.reduce((a, t) => a + t.pages_read, 0),
        tables,
        missing: selection.missing.map((m) => ({ table: displayQualified(m), reason: describeMissing(m) })),
      });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  process.stdout.write(`${json ? renderBloatJson(reports) : renderBloatText(reports)}\n`);
  return code;
}
