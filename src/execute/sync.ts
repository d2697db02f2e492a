/**
 * Keeps prepared copies in sync (replay_data, prepare_repack --start-replay): for each table
 * whose latest run is prepared, under its advisory lock (a table being swapped right now is
 * skipped), replay the log until it is empty, then let go.
 */
import type { ConnectionConfig } from '../config/types.js';
import { ADVISORY_CLASS, advisoryObjectKey } from '../db/advisory.js';
import { connect } from '../db/connect.js';
import { displayQualified, quoteIdent, quoteQualified } from '../db/ident.js';
import { serializeQueries } from '../db/session.js';
import { inspectTable } from '../inspect/table.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { createBatchTable } from '../plan/replay.js';
import type { Emit } from '../report/events.js';
import type { Logger } from '../report/logger.js';
import { defaultEngineOptions, type TableRun } from './context.js';
import { findPrepared } from './state.js';
import { replayOnce } from './replay.js';
import { runStep } from './steps.js';

export interface SyncResult {
  table: string;
  replayed: number;
  skipped?: string;
}

export async function syncPrepared(conn: ConnectionConfig, home: string, log: Logger, emit: Emit): Promise<SyncResult[]> {
  const control = serializeQueries(await connect(conn, { home, applicationName: 'rpcl replay' }));
  const results: SyncResult[] = [];
  try {
    const { rows } = await control.query<{ oid: string }>(
      `SELECT oid FROM (SELECT DISTINCT ON (table_oid) table_oid::int8 AS oid, status FROM ${quoteIdent(HELPER_SCHEMA)}.runs
                        ORDER BY table_oid, run_id DESC) latest
       WHERE status = 'prepared'`,
    );
    for (const { oid } of rows) {
      const key = [ADVISORY_CLASS, advisoryObjectKey(Number(oid))];
      if (!(await control.query(`SELECT pg_try_advisory_lock($1::int, $2::int) AS ok`, key)).rows[0].ok) {
        results.push({ table: `table OID ${oid}`, replayed: 0, skipped: 'another rpcl session is working on it' });
        continue;
      }
      try {
        results.push(await syncOne(control, Number(oid), conn, home, log, emit));
      } finally {
        await control.query(`SELECT pg_advisory_unlock($1::int, $2::int)`, key);
      }
    }
  } finally {
    await control.end().catch(() => undefined);
  }
  return results;
}

async function syncOne(
  control: import('pg').Client,
  oid: number,
  conn: ConnectionConfig,
  home: string,
  log: Logger,
  emit: Emit,
): Promise<SyncResult> {
  const facts = await inspectTable(control, oid);
  const prepared = await findPrepared(control, oid);
  if (facts === null || prepared === null) return { table: `table OID ${oid}`, replayed: 0, skipped: 'no longer prepared' };
  const table = displayQualified(facts);
  if (prepared.fingerprint !== facts.fingerprint || prepared.relfilenode !== facts.relfilenode) {
    return { table, replayed: 0, skipped: 'the table changed since it was prepared: repack_tables will start it over' };
  }
  const work = await connect(conn, { home, applicationName: 'rpcl replay' });
  try {
    const run: TableRun = {
      conn, facts, ref: { connection: conn.name, table, oid }, table: quoteQualified(facts), work, workPid: 0, control,
      serverVersion: 0, opts: defaultEngineOptions, log, emit, stopRequested: () => false, home, runId: prepared.runId,
      busyPids: [], cancelled: false, keepsWork: false,
    };
    await runStep(work, createBatchTable(facts));
    let replayed = 0;
    // Until a batch finds nothing: writers that keep writing cannot hold it here forever.
    for (let i = 0; i < 100; i++) {
      const batch = await replayOnce(run);
      replayed += batch.logRows;
      if (batch.logRows === 0) break;
    }
    await control.query(`UPDATE ${quoteIdent(HELPER_SCHEMA)}.runs SET backlog = 0 WHERE run_id = $1`, [prepared.runId]);
    return { table, replayed };
  } finally {
    await work.end().catch(() => undefined);
  }
}
