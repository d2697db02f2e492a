/**
 * Keeps prepared copies in sync (replay_data, prepare_repack --start-replay): for each table
 * whose latest run is prepared, under its advisory lock (a table being swapped right now is
 * skipped), replay the log until it is empty, then let go. Meanwhile the run's row names this
 * process as its runner, with phase replay, the backlog and the rates, for `status`; the row
 * stays prepared (phase prepared again once the pass is over).
 */
import { tableFingerprintOf } from '../plan/table-options.js';
import { hostname } from 'node:os';
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
import { ReplayEstimator } from './estimator.js';
import { findPrepared, updateRun } from './state.js';
import { backlogOf, loggedTotal, replayOnce } from './replay.js';
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

/**
 * What this process measured on each table it replays, kept from one pass to the next
 * (replay_data calls syncPrepared every check_time): the change rate is measured over the time
 * between two passes, the replay rate over every batch so far.
 */
const measured = new Map<string, { estimator: ReplayEstimator; sampledAt: number }>();

/** Shortest window for a change-rate sample: a shorter one says little. */
const MIN_SAMPLE_MS = 1000;
/** How often the run's row is updated while a pass goes on. */
const REPORT_MS = 1000;

function measuredFor(conn: ConnectionConfig, oid: number): { estimator: ReplayEstimator; sampledAt: number } {
  const key = `${conn.name}/${oid}`;
  let m = measured.get(key);
  if (m === undefined) {
    m = {
      estimator: new ReplayEstimator({ swapBudgetMs: defaultEngineOptions.swapBudgetMs, swapOverheadMs: 15, maxSwapRows: conn.maxReplayRows }),
      sampledAt: 0,
    };
    measured.set(key, m);
  }
  return m;
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
  // The table's part only: table_options are checked by repack_tables before it swaps.
  if (tableFingerprintOf(prepared.fingerprint) !== facts.fingerprint || prepared.relfilenode !== facts.relfilenode) {
    return { table, replayed: 0, skipped: 'the table changed since it was prepared: repack_tables will start it over' };
  }
  const ref = { connection: conn.name, table, oid };
  const m = measuredFor(conn, oid);
  // The run's row says who works on the copy now and how far it is (status reads it): this
  // process, through the control session that holds the table's advisory lock.
  const report = async (phase?: 'replay' | 'prepared') => {
    const now = Date.now();
    const backlog = await backlogOf(control, oid);
    if (now - m.sampledAt >= MIN_SAMPLE_MS) {
      m.estimator.sample(now, await loggedTotal(control, oid), backlog, backlog);
      m.sampledAt = now;
    }
    const e = m.estimator.estimate(backlog);
    // Rates not measured yet by this process keep the ones on the row; the prediction goes with
    // this backlog, so an unknown one replaces the old.
    await updateRun(control, prepared.runId, {
      phase, backlog, changeRate: e.changeRate ?? undefined, replayRate: e.replayRate ?? undefined, predictedSwapMs: e.predictedSwapMs,
    });
  };
  await control.query(
    `UPDATE ${quoteIdent(HELPER_SCHEMA)}.runs SET runner_pid = $2, runner_host = $3, runner_backend_pid = pg_backend_pid() WHERE run_id = $1`,
    [prepared.runId, process.pid, hostname()],
  );
  await report('replay');
  const work = await connect(conn, { home, applicationName: 'rpcl replay' });
  let finished = false;
  try {
    const run: TableRun = {
      conn, facts, ref, table: quoteQualified(facts), work, workPid: 0, control,
      serverVersion: 0, opts: defaultEngineOptions, log, emit, stopRequested: () => false, home, runId: prepared.runId,
      busyPids: [], cancelled: false, keepsWork: false,
    };
    await runStep(work, createBatchTable(facts));
    let replayed = 0;
    let reported = Date.now();
    // Until a batch finds nothing: writers that keep writing cannot hold it here forever.
    for (let i = 0; i < 100; i++) {
      const batch = await replayOnce(run);
      replayed += batch.logRows;
      if (batch.logRows === 0) break;
      m.estimator.recordBatch(batch.logRows, batch.ms);
      if (Date.now() - reported >= REPORT_MS) {
        await report();
        reported = Date.now();
      }
    }
    await report('prepared');
    finished = true;
    return { table, replayed };
  } finally {
    // A pass that failed leaves the copy prepared, as it was.
    if (!finished) await updateRun(control, prepared.runId, { phase: 'prepared' }).catch(() => undefined);
    await work.end().catch(() => undefined);
  }
}
