/**
 * One table's run, start to end: refuse or prepare, capture, copy, index, replay, swap,
 * clean up. Any failure before the swap commits removes what this run created (and nothing
 * else) and leaves the original table as it was; the advisory lock keeps a second run away.
 */
import type pg from 'pg';
import type { ConnectionConfig } from '../config/types.js';
import { ADVISORY_CLASS, advisoryObjectKey } from '../db/advisory.js';
import { connect } from '../db/connect.js';
import { displayQualified, quoteQualified } from '../db/ident.js';
import { backoffDelay, isLockFailure, retryOnLock } from '../db/retry.js';
import { inTransaction, serializeQueries, setLocalTimeouts, sleep } from '../db/session.js';
import type { Candidate } from '../inspect/select.js';
import { inspectTable } from '../inspect/table.js';
import { readCircumstances } from '../inspect/circumstances.js';
import { refusalReason } from '../plan/refusals.js';
import { createBatchTable } from '../plan/replay.js';
import { dropOldTable } from '../plan/swap.js';
import type { Emit, Phase, TableOutcome, TableRef } from '../report/events.js';
import type { Logger } from '../report/logger.js';
import { describeBlocker, resolveBlockers, type Blocker } from './blockers.js';
import { findLeftovers, isComplete, isEmpty, removeWorkObjects } from './cleanup.js';
import { installCapture } from './capture.js';
import { StopRequestedError, type EngineOptions, type TableRun } from './context.js';
import { buildIndexes, copyData, createCopy } from './copy.js';
import { catchUp, newCatchUp, truncatePending, type CatchUp } from './replay.js';
import { validatePending } from './recovery.js';
import { findPrepared, insertRun, resumeRun, updateRun } from './state.js';
import { attemptSwap } from './swap.js';
import { lockOrderFor } from '../plan/swap-locks.js';
import { runStep } from './steps.js';
import { ensureHelperSchema } from './helper-schema.js';
import { testPause } from './test-hooks.js';

export interface RunTableOptions {
  conn: ConnectionConfig;
  home: string;
  configName: string;
  log: Logger;
  emit: Emit;
  engine: EngineOptions;
  stopRequested: () => boolean;
  /** prepare: stop before the swap, leaving the copy prepared for a later repack_tables. */
  mode: 'repack' | 'prepare';
}

export async function repackTable(opts: RunTableOptions, candidate: Candidate): Promise<TableOutcome> {
  const started = Date.now();
  const ref: TableRef = {
    connection: opts.conn.name,
    table: displayQualified({ schema: candidate.schema, name: candidate.name }),
    oid: candidate.oid,
  };
  const outcome = (status: TableOutcome['status'], extra: Partial<TableOutcome> = {}): TableOutcome => ({
    status,
    table: ref.table,
    connection: ref.connection,
    listed: candidate.listed,
    durationMs: Date.now() - started,
    ...extra,
  });
  const control = serializeQueries(await connect(opts.conn, { home: opts.home, applicationName: 'rpcl control' }));
  try {
    await ensureHelperSchema(control, opts.log);
    const locked = await control.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1::int, $2::int) AS ok`, [
      ADVISORY_CLASS,
      advisoryObjectKey(candidate.oid),
    ]);
    if (!locked.rows[0]?.ok) {
      return outcome('refused', { reason: 'another rpcl run is working on this table: wait for it or stop it' });
    }
    const facts = await inspectTable(control, candidate.oid);
    if (facts === null) return outcome('refused', { reason: 'the table no longer exists' });
    // We hold the advisory lock: any work objects here belong to a run that died, or to a
    // prepared run, which is resumed only if the table is exactly as it was prepared.
    const prepared = await findPrepared(control, facts.oid);
    const leftovers = await findLeftovers(control, facts.oid);
    // New storage is expected after the application's TRUNCATE (its marker still in the log).
    const resume =
      prepared !== null && isComplete(leftovers, facts.oid) && prepared.fingerprint === facts.fingerprint &&
      (prepared.relfilenode === facts.relfilenode || await truncatePending(control, facts));
    if (!resume && !isEmpty(leftovers)) {
      const removed = await removeWorkObjects(control, facts.oid, cleanupOptions(opts.conn, opts.log, ref));
      const why = prepared
        ? 'the prepared copy no longer matches the table (its definition or storage changed): starting over'
        : 'removed leftovers of a run that died';
      opts.emit({ type: 'warning', ref, message: `${why}: ${removed.join(', ')}` });
      if (prepared) await updateRun(control, prepared.runId, { status: 'aborted', phase: 'failed', lastError: why, ended: true });
    }
    const reason = refusalReason(facts, await readCircumstances(control, facts.schema));
    if (reason !== null) return outcome('refused', { reason });

    let runId: number;
    if (resume && prepared) {
      runId = prepared.runId;
      await resumeRun(control, runId);
      opts.emit({ type: 'phase', ref, phase: 'replay', detail: 'resuming the prepared copy: no second copy is made' });
    } else {
      runId = await insertRun(control, facts, { configName: opts.configName, connection: opts.conn.name });
    }
    // The phase the run is in, as its events tell it: a stop request must not cancel the swap.
    const tracker: { phase: Phase } = { phase: 'starting' };
    const emit: Emit = (e) => {
      if (e.type === 'phase') tracker.phase = e.phase;
      opts.emit(e);
      const update =
        e.type === 'phase' ? { phase: e.phase } :
        e.type === 'copy-progress' ? { rowsCopied: e.rowsCopied } :
        e.type === 'replay-progress' ? {
          backlog: e.estimate.backlog, changeRate: e.estimate.changeRate,
          replayRate: e.estimate.replayRate, predictedSwapMs: e.estimate.predictedSwapMs,
        } : null;
      if (update) updateRun(control, runId, update).catch((err) => opts.log.debug(`state update failed: ${err}`));
    };
    const work = await connect(opts.conn, { home: opts.home, applicationName: 'rpcl work' });
    try {
      const version = await work.query<{ v: string; pid: number }>(
        `SELECT current_setting('server_version_num') AS v, pg_backend_pid() AS pid`,
      );
      const run: TableRun = {
        conn: opts.conn,
        facts,
        ref,
        table: quoteQualified(facts),
        work,
        workPid: version.rows[0]!.pid,
        control,
        serverVersion: Number(version.rows[0]!.v),
        opts: opts.engine,
        log: opts.log,
        emit,
        stopRequested: opts.stopRequested,
        home: opts.home,
        runId,
        busyPids: [version.rows[0]!.pid],
        cancelled: false,
      };
      // A stop request cancels the statement in flight (a long copy or index build) so the run
      // ends within seconds; never during the swap, which is short and must finish or roll back.
      const stopWatch = setInterval(() => {
        if (!opts.stopRequested() || tracker.phase === 'swap' || run.cancelled) return;
        run.cancelled = true;
        control.query(`SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid`, [run.busyPids]).catch(() => undefined);
      }, 200);
      try {
        const swap = await runPhases(run, { resume, prepareOnly: opts.mode === 'prepare' });
        if (swap === null) {
          await updateRun(control, runId, { phase: 'prepared', status: 'prepared' });
          return outcome('prepared', { sizeBefore: facts.totalBytes });
        }
        await testPause('after-swap');
        const after = await afterSwap(run);
        await updateRun(control, runId, { phase: 'done', status: 'done', sizeAfter: after.sizeAfter, ended: true });
        return outcome('done', { sizeBefore: facts.totalBytes, sizeAfter: after.sizeAfter, swapHoldMs: swap.holdMs });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        emit({ type: 'phase', ref, phase: 'cleanup', detail: 'the run failed: removing its work objects' });
        await work.query('ROLLBACK').catch(() => undefined);
        try {
          await removeWorkObjects(control, facts.oid, cleanupOptions(opts.conn, opts.log, ref));
        } catch (cleanupErr) {
          opts.log.error(
            `could not remove every work object (${(cleanupErr as Error).message}); ` +
              'run rpcl abort_repack or drop_schema to finish the cleanup',
            { connection: ref.connection, table: ref.table },
          );
        }
        const status = err instanceof StopRequestedError || opts.stopRequested() ? 'stopped' : 'failed';
        await updateRun(control, runId, { phase: status, status, lastError: message, ended: true }).catch(() => undefined);
        return outcome(status, { reason: status === 'stopped' ? new StopRequestedError().message : message, sizeBefore: facts.totalBytes });
      } finally {
        clearInterval(stopWatch);
      }
    } finally {
      await work.end().catch(() => undefined);
    }
  } finally {
    await control.query(`SELECT pg_advisory_unlock($1::int, $2::int)`, [ADVISORY_CLASS, advisoryObjectKey(candidate.oid)]).catch(() => undefined);
    await control.end().catch(() => undefined);
  }
}

/** Cleanup outside a table's run: retries are bounded, and logged by the caller's outcome. */
export function cleanupOptionsFor(conn: ConnectionConfig) {
  return { lockTimeoutMs: conn.lockTimeoutMs, attempts: 10 };
}

function cleanupOptions(conn: ConnectionConfig, log: Logger, ref: TableRef) {
  return {
    lockTimeoutMs: conn.lockTimeoutMs,
    attempts: 10,
    onRetry: (what: string, attempt: number) =>
      log.warning(`${what}: lock not granted within ${conn.lockTimeoutMs} ms (attempt ${attempt}), retrying`, {
        connection: ref.connection,
        table: ref.table,
      }),
  };
}

/**
 * The phases in order. A resumed prepared run starts at replay (its copy is complete and
 * in sync up to its log); prepareOnly stops once the copy has caught up, leaving capture on.
 * Returns null when only preparing.
 */
async function runPhases(run: TableRun, how: { resume: boolean; prepareOnly: boolean }) {
  if (!how.resume) await buildCopy(run);
  const { emit, ref } = run;
  emit({ type: 'phase', ref, phase: 'replay' });
  await testPause('replay', run.stopRequested);
  await runStep(run.work, createBatchTable(run.facts));
  const state = newCatchUp(run);
  if (how.prepareOnly) {
    await catchUp(run, state);
    return null;
  }
  return swapWithRetries(run, state);
}

async function buildCopy(run: TableRun): Promise<void> {
  const { emit, ref } = run;
  emit({ type: 'phase', ref, phase: 'capture' });
  await installCapture(run);
  emit({ type: 'phase', ref, phase: 'copy' });
  await testPause('copy', run.stopRequested);
  await createCopy(run);
  // Helper sessions share the copy and the index builds with the work session.
  const helpers = await Promise.all(
    Array.from({ length: Math.max(0, run.opts.parallelSessions - 1) }, () =>
      connect(run.conn, { home: run.home, applicationName: 'rpcl helper' }),
    ),
  );
  for (const h of helpers) run.busyPids.push((h as unknown as { processID: number }).processID);
  try {
    await copyData(run, helpers);
    emit({ type: 'phase', ref, phase: 'index', detail: `${run.facts.indexes.length} indexes and constraints` });
    await testPause('index', run.stopRequested);
    await buildIndexes(run, helpers);
  } finally {
    await Promise.all(helpers.map((c) => c.end().catch(() => undefined)));
  }
}

/** Tries within one attempt that gave up at once: the next one follows after a short pause. */
const QUICK_TRIES = 4;

async function swapWithRetries(run: TableRun, state: CatchUp) {
  const { emit, ref } = run;
  const attempts = run.opts.swapAttempts;
  let lastBlockers: Blocker[] = [];
  let tries = 0;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await catchUp(run, state);
    emit({ type: 'phase', ref, phase: 'swap', detail: `attempt ${attempt} of ${attempts}` });
    await testPause('swap');
    let result = await attemptSwap(run, lockOrderFor(++tries));
    // A try that gave up at once stalled nobody: try the other lock order right away, a few
    // times, before the attempt counts as failed and backs off.
    for (let quick = 1; !result.ok && result.quick && quick < QUICK_TRIES; quick++) {
      emit({ type: 'warning', ref, message: `swap attempt ${attempt}/${attempts}, try ${quick}: ${result.message}; trying again at once` });
      await sleep(20 * quick);
      await catchUp(run, state);
      result = await attemptSwap(run, lockOrderFor(++tries));
    }
    if (result.ok) {
      emit({ type: 'swap-attempt', ref, attempt, of: attempts, ok: true, holdMs: result.holdMs });
      return result;
    }
    lastBlockers = result.blockers;
    const who = result.blockers.length > 0 ? ` blocked by ${result.blockers.map(describeBlocker).join('; ')}` : '';
    emit({ type: 'swap-attempt', ref, attempt, of: attempts, ok: false, message: `${result.message}${who}` });
    if (attempt === attempts) break;
    for (const line of await resolveBlockers(run.control, result.blockers, run.conn.deadlockResolution)) {
      emit({ type: 'warning', ref, message: `deadlock_resolution ${run.conn.deadlockResolution}: ${line}` });
    }
    await sleep(backoffDelay(attempt, { baseDelayMs: 500, maxDelayMs: 10_000 }));
    emit({ type: 'phase', ref, phase: 'replay', detail: 'replaying before the next swap attempt' });
  }
  const who = lastBlockers.length > 0 ? `: blocked by ${lastBlockers.map(describeBlocker).join('; ')}` : '';
  throw new Error(
    `the swap lock was not granted within lock_timeout (${run.conn.lockTimeoutMs} ms) in ${attempts} attempts${who}. ` +
      'The original table is unchanged. End those sessions or set deadlock_resolution, then run again',
  );
}

/**
 * After the commit the table is the compact copy; what follows blocks no writer: foreign keys
 * rpcl re-created are validated (only those that were valid before), the old table and the
 * work objects are dropped under lock_timeout, statistics are refreshed.
 */
async function afterSwap(run: TableRun) {
  const { control, work, ref, conn } = run;
  run.emit({ type: 'phase', ref, phase: 'cleanup' });
  const bounded = (what: string, client: pg.Client, body: () => Promise<unknown>) =>
    retryOnLock({ attempts: 10, baseDelayMs: 200, maxDelayMs: 5000 }, () =>
      inTransaction(client, async () => {
        await setLocalTimeouts(client, { lockTimeoutMs: conn.lockTimeoutMs });
        await body();
      }),
    ).catch((err) => {
      const hint = isLockFailure(err) ? ' (lock not granted)' : '';
      run.emit({ type: 'warning', ref, message: `${what} failed${hint}: ${(err as Error).message}` });
    });
  await validatePending(control, run.facts.oid, cleanupOptions(conn, run.log, ref)).catch((err) =>
    run.emit({
      type: 'warning', ref,
      message: `validating the re-created foreign keys failed (${(err as Error).message}); they stay NOT VALID until the next rpcl command on this database completes them`,
    }),
  );
  // Validation is done, so nothing else of rpcl locks the new table now: ANALYZE (SHARE UPDATE
  // EXCLUSIVE on the application's table, bounded like every lock) runs on the work session
  // while the control session drops the old table and the work objects, which it never touches.
  const t0 = performance.now();
  const took: string[] = [];
  const timed = async (what: string, body: () => Promise<unknown>) => {
    const t = performance.now();
    await body();
    took.push(`${what} ${(performance.now() - t).toFixed(1)} ms (ended at +${(performance.now() - t0).toFixed(0)} ms)`);
  };
  await Promise.all([
    (async () => {
      await timed('old table dropped', () => bounded('dropping the old table', control, () => runStep(control, dropOldTable(run.facts.oid))));
      await timed('work objects removed', () =>
        removeWorkObjects(control, run.facts.oid, cleanupOptions(conn, run.log, ref)).catch((err) =>
          run.emit({ type: 'warning', ref, message: `removing work objects failed: ${(err as Error).message}` }),
        ),
      );
    })(),
    conn.analyzeTables ? timed('ANALYZE', () => bounded('analyzing the table', work, () => work.query(`ANALYZE ${run.table}`))) : undefined,
  ]);
  run.log.debug(`cleanup: ${took.join(', ')}`, run.ref);
  const size = await control.query<{ n: string }>(`SELECT pg_total_relation_size($1::regclass)::int8 AS n`, [run.table]);
  return { sizeAfter: Number(size.rows[0]!.n) };
}
