/**
 * Replays the log into the copy until a swap fits the lock budget (see plan/replay.ts for why a
 * batch is correct). The estimator decides when; a change of the table's definition or storage
 * ends the run here, long before the swap.
 */
import type pg from 'pg';
import { readFingerprint } from '../inspect/table.js';
import { analyzeBatch, emptyCopy, replayBatch, takeLogBatch } from '../plan/replay.js';
import { helperName, markerColumn } from '../plan/capture.js';
import { quoteIdent } from '../db/ident.js';
import { HELPER_SCHEMA, workNames } from '../plan/names.js';
import type { TableFacts } from '../inspect/facts.js';
import { sleep } from '../db/session.js';
import { DefinitionChangedError, StopRequestedError, type TableRun } from './context.js';
import { ReplayEstimator } from './estimator.js';
import { runStep } from './steps.js';
import { testPause } from './test-hooks.js';
import type { Throttle } from './throttle.js';

export interface BatchResult {
  logRows: number;
  keys: number;
  /** The batch took the marker of an application's TRUNCATE. */
  truncated: boolean;
  ms: number;
}

/**
 * Applies one batch on `client`. Outside the swap it must run in its own REPEATABLE READ
 * transaction (the caller's job in the swap, where writers are locked out).
 */
export async function applyBatch(client: pg.Client, run: TableRun, take = takeLogBatch(run.facts)): Promise<BatchResult> {
  const started = performance.now();
  const { apply } = replayBatch(run.facts, run.options?.order);
  const r = await runStep(client, take);
  const logRows = Number(r.rows[0].log_rows);
  const keys = Number(r.rows[0].keys);
  const truncated: boolean = r.rows[0].truncated;
  if (truncated) {
    await runStep(client, emptyCopy(run.facts));
    run.log.debug('the application truncated the table: the copy was emptied and refilled from the keys logged since', run.ref);
  }
  if (keys > 0) {
    // Statistics for the batch (a millisecond): without them the planner guesses its size and
    // may scan the whole table to re-read a handful of keys, under the swap lock too.
    await runStep(client, analyzeBatch(run.facts));
    for (const step of apply) await runStep(client, step);
  }
  return { logRows, keys, truncated, ms: performance.now() - started };
}

export async function replayOnce(run: TableRun): Promise<BatchResult> {
  const { work } = run;
  const started = performance.now();
  await work.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    const result = await applyBatch(work, run);
    if (result.truncated) await recordNewStorage(work, run);
    await testPause('replay-batch');
    result.ms = performance.now() - started;
    await work.query('COMMIT');
    return result;
  } catch (err) {
    await work.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * TRUNCATE gave the table new storage: the application's doing, not a rewrite behind rpcl's
 * back. Recorded in the batch's transaction, so that a kept copy is still recognised.
 */
export async function recordNewStorage(client: pg.Client, run: TableRun): Promise<void> {
  run.facts.relfilenode = (await relfilenodeOf(client, run.facts.oid)) ?? run.facts.relfilenode;
  await client.query(`UPDATE ${quoteIdent(HELPER_SCHEMA)}.runs SET relfilenode = $2 WHERE run_id = $1`, [run.runId, run.facts.relfilenode]);
}

/** Beyond this many log rows the exact backlog does not matter, and counting it costs. */
export const BACKLOG_CAP = 10_000_000;

/** Committed log rows not yet replayed, counted up to BACKLOG_CAP. */
export async function backlogOf(client: pg.Client, oid: number): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*)::int8 AS n FROM (SELECT 1 FROM ${helperName(workNames.logTable(oid))} LIMIT ${BACKLOG_CAP}) s`,
  );
  return Number(rows[0]!.n);
}

/** Log rows ever written: the log's id sequence (counts rolled-back writes too). */
export async function loggedTotal(client: pg.Client, oid: number): Promise<number> {
  const seq = helperName(`${workNames.logTable(oid)}_rpcl_id_seq`);
  const { rows } = await client.query<{ v: string }>(
    `SELECT CASE WHEN is_called THEN last_value ELSE 0 END::int8 AS v FROM ${seq}`,
  );
  return Number(rows[0]!.v);
}

async function relfilenodeOf(client: pg.Client, oid: number): Promise<number | null> {
  const { rows } = await client.query<{ relfilenode: string }>(
    `SELECT relfilenode::int8 AS relfilenode FROM pg_class WHERE oid = $1::oid`,
    [oid],
  );
  return rows[0] === undefined ? null : Number(rows[0].relfilenode);
}

export async function assertDefinitionUnchanged(client: pg.Client, run: TableRun): Promise<void> {
  const relfilenode = await relfilenodeOf(client, run.facts.oid);
  if (relfilenode === null) throw new DefinitionChangedError('existence');
  if (relfilenode !== run.facts.relfilenode && !(await truncatePending(client, run.facts))) {
    throw new DefinitionChangedError('storage (relfilenode)');
  }
  if ((await readFingerprint(client, run.facts.oid)) !== run.facts.fingerprint) {
    throw new DefinitionChangedError('definition');
  }
}

/** A committed TRUNCATE not yet replayed explains new storage (its marker is in the log). */
export async function truncatePending(client: pg.Client, facts: TableFacts): Promise<boolean> {
  const { rows } = await client.query<{ found: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${helperName(workNames.logTable(facts.oid))} WHERE ${markerColumn(facts)} IS NULL) AS found`,
  );
  return rows[0]?.found ?? false;
}

export interface CatchUp {
  estimator: ReplayEstimator;
  startedAt: number;
  /** Holds replay back between batches (pause, max_wal_rate, ...). */
  throttle: Throttle;
}

export function newCatchUp(run: TableRun, throttle: Throttle): CatchUp {
  return {
    throttle,
    estimator: new ReplayEstimator({
      swapBudgetMs: run.opts.swapBudgetMs,
      swapOverheadMs: 15,
      maxSwapRows: run.conn.maxReplayRows,
    }),
    startedAt: Date.now(),
  };
}

/**
 * Replays until the predicted final catch-up fits the swap budget. Every check_time seconds:
 * sample the change rate, report progress, verify the table's definition, and give up if no
 * swap has fitted for catchupTimeoutMs.
 */
export async function catchUp(run: TableRun, state: CatchUp): Promise<void> {
  const checkMs = run.conn.checkTimeSeconds * 1000;
  let lastCheck = 0;
  let backlogAtLastCheck = 0;
  // Time held back by the throttle (a pause, a WAL or lag limit) is not replay falling behind.
  let since = Date.now();
  for (;;) {
    if (run.stopRequested()) throw new StopRequestedError();
    since += await state.throttle.between();
    const batch = await replayOnce(run);
    state.throttle.worked(batch.ms);
    if (batch.logRows > 0) state.estimator.recordBatch(batch.logRows, batch.ms);
    const backlog = await backlogOf(run.control, run.facts.oid);
    const now = Date.now();
    if (now - lastCheck >= checkMs) {
      const logged = await loggedTotal(run.control, run.facts.oid);
      const losing = state.estimator.sample(now, logged, backlogAtLastCheck, backlog);
      backlogAtLastCheck = backlog;
      lastCheck = now;
      await assertDefinitionUnchanged(run.control, run);
      const estimate = state.estimator.estimate(backlog);
      run.emit({ type: 'replay-progress', ref: run.ref, estimate, elapsedMs: now - state.startedAt });
      if (losing) run.emit({ type: 'replay-behind', ref: run.ref, estimate, windows: state.estimator.losingWindows });
    }
    if (state.estimator.swapFits(backlog)) return;
    if (now - since > run.opts.catchupTimeoutMs) {
      const e = state.estimator.estimate(backlog);
      throw new Error(
        `replay could not catch up within ${Math.round(run.opts.catchupTimeoutMs / 1000)} s: changes arrive at ` +
          `${Math.round(e.changeRate ?? 0)} rows/s and replay drains ${Math.round(e.replayRate ?? 0)} rows/s ` +
          `(backlog ${backlog}); run again at a quieter time`,
      );
    }
    // An empty batch with a non-empty backlog means writers hold uncommitted log rows: wait a
    // moment for them instead of spinning.
    if (batch.logRows === 0) await sleep(20);
  }
}
