/**
 * One table's run, start to end: refuse or prepare, capture, copy, index, replay, swap,
 * clean up. Any failure before the swap commits removes what this run created (and nothing
 * else) and leaves the original table as it was. Two exceptions keep the work (capture on):
 * a swap that never got its locks leaves the copy prepared, and a chunked copy stopped on
 * request or by a lost connection is continued by the next run. The advisory lock keeps a
 * second run away.
 */
import type { ConnectionConfig } from '../config/types.js';
import { ADVISORY_CLASS, advisoryObjectKey } from '../db/advisory.js';
import { connect } from '../db/connect.js';
import { displayQualified, quoteQualified } from '../db/ident.js';
import { serializeQueries } from '../db/session.js';
import { isConnectionLoss } from '../db/sqlstate.js';
import type { Candidate } from '../inspect/select.js';
import { inspectTable } from '../inspect/table.js';
import { readCircumstances } from '../inspect/circumstances.js';
import { runFingerprint, tableFingerprintOf } from '../plan/table-options.js';
import { optionNotes, tableOptionsFor } from './table-options.js';
import { refusalReason } from '../plan/refusals.js';
import type { Emit, Phase, TableOutcome, TableRef } from '../report/events.js';
import type { Logger } from '../report/logger.js';
import { afterSwap } from './after-swap.js';
import { cleanupOptions, findLeftovers, isComplete, isEmpty, removeWorkObjects } from './cleanup.js';
import { BLOCKED_NEXT, KEPT_NEXT, StopRequestedError, SwapBlockedError, type EngineOptions, type TableRun } from './context.js';
import { runPhases, type StartFrom } from './phases.js';
import { truncatePending } from './replay.js';
import { throttleRefusal } from './throttle.js';
import { findKept, insertRun, resumeRun, updateRun } from './state.js';
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
    // table_options first: a bad entry is refused before anything is changed, kept work included.
    const options = await tableOptionsFor(control, opts.conn, facts);
    // Its table_options entry names the table: the refusal counts as a listed table's (exit code 5).
    if ('refusal' in options) return outcome('refused', { reason: options.refusal, listed: true });
    const fingerprint = runFingerprint(facts.fingerprint, options.effective);
    // We hold the advisory lock: any work objects here belong to a run that died, or to work
    // kept on purpose (a prepared copy, a chunked copy that stopped), which is continued only
    // if the table is exactly as it was when the work was done.
    const kept = await findKept(control, facts.oid);
    const leftovers = await findLeftovers(control, facts.oid);
    // New storage is expected after the application's TRUNCATE (its marker still in the log).
    const resume =
      kept !== null && isComplete(leftovers, facts.oid, kept.chunked) && kept.fingerprint === fingerprint &&
      (kept.relfilenode === facts.relfilenode || await truncatePending(control, facts));
    if (!resume && !isEmpty(leftovers)) {
      const removed = await removeWorkObjects(control, facts.oid, cleanupOptions(opts.conn, opts.log, ref));
      const why = !kept
        ? 'removed leftovers of a run that died'
        : kept.fingerprint !== fingerprint && tableFingerprintOf(kept.fingerprint) === facts.fingerprint
          ? `the kept ${kept.chunked ? 'chunked' : 'prepared'} copy was made with other table_options (order, tablespace or storage parameters): starting over`
          : `the kept ${kept.chunked ? 'chunked' : 'prepared'} copy no longer matches the table (its definition or storage changed): starting over`;
      opts.emit({ type: 'warning', ref, message: `${why}: ${removed.join(', ')}` });
      if (kept) await updateRun(control, kept.runId, { status: 'aborted', phase: 'failed', lastError: why, ended: true });
    }
    const reason = refusalReason(facts, await readCircumstances(control, facts.schema)) ?? await throttleRefusal(control, opts.conn);
    if (reason !== null) return outcome('refused', { reason });

    let runId: number;
    let from: StartFrom = 'fresh';
    if (resume && kept) {
      runId = kept.runId;
      from = kept.chunked && !kept.copyComplete ? 'chunks' : 'replay';
      await resumeRun(control, runId);
      if (from === 'replay') {
        opts.emit({ type: 'phase', ref, phase: 'replay', detail: `resuming the ${kept.chunked ? 'complete chunked' : 'prepared'} copy: no second copy is made` });
      }
    } else {
      runId = await insertRun(control, facts, { configName: opts.configName, connection: opts.conn.name, partitionOf: candidate.partitionOf, fingerprint });
    }
    const chunked = from !== 'fresh' ? kept?.chunked === true : options.choice.chunked;
    for (const note of optionNotes(facts, options)) opts.emit({ type: 'note', ref, message: note });
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
        // A chunked copy's committed work can be continued by the next run, once it exists.
        keepsWork: from !== 'fresh' && chunked,
        options: options.effective,
      };
      // A stop request cancels the statement in flight (a long copy or index build) so the run
      // ends within seconds; never during the swap, which is short and must finish or roll back.
      const stopWatch = setInterval(() => {
        if (!opts.stopRequested() || tracker.phase === 'swap' || run.cancelled) return;
        run.cancelled = true;
        control.query(`SELECT pg_cancel_backend(pid) FROM unnest($1::int[]) AS pid`, [run.busyPids]).catch(() => undefined);
      }, 200);
      try {
        const swap = await runPhases(run, { from, chunked, prepareOnly: opts.mode === 'prepare' });
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
        const stopped = err instanceof StopRequestedError || opts.stopRequested();
        await work.query('ROLLBACK').catch(() => undefined);
        // The swap never got its locks: the copy is complete and in sync, the expensive part
        // is done. It stays prepared for a later repack_tables (or replay_data) to finish.
        if (err instanceof SwapBlockedError && !stopped) {
          const reason = `${message}. ${BLOCKED_NEXT}`;
          await updateRun(control, runId, { status: 'prepared', phase: 'prepared', lastError: reason }).catch(() => undefined);
          return outcome('failed', { reason, sizeBefore: facts.totalBytes });
        }
        // A chunked copy is right as of its last commit: a stop or a lost connection keeps it
        // (capture stays on) for the next run to continue. Any other failure removes it.
        if (run.keepsWork && (stopped || isConnectionLoss(err))) {
          const reason = `${stopped ? 'stopped on request' : message}; ${KEPT_NEXT}`;
          await updateRun(control, runId, { status: 'stopped', lastError: reason, ended: true }).catch(() => undefined);
          return outcome(stopped ? 'stopped' : 'failed', { reason, sizeBefore: facts.totalBytes });
        }
        emit({ type: 'phase', ref, phase: 'cleanup', detail: 'the run failed: removing its work objects' });
        // The cleanup's own result goes with the outcome, so the terminal and the email say it.
        let cleanup = '';
        try {
          const removed = await removeWorkObjects(control, facts.oid, cleanupOptions(opts.conn, opts.log, ref));
          cleanup = removed.length > 0 ? `; cleaned up: removed ${removed.length} work objects, the table is as it was` : '';
        } catch (cleanupErr) {
          const why = (cleanupErr as Error).message;
          cleanup = `; the cleanup is incomplete (${why}): run rpcl abort_repack or drop_schema to finish it`;
          opts.log.error(`could not remove every work object (${why}); run rpcl abort_repack or drop_schema to finish the cleanup`, {
            connection: ref.connection, table: ref.table,
          });
        }
        const status = stopped ? 'stopped' : 'failed';
        await updateRun(control, runId, { phase: status, status, lastError: message, ended: true }).catch(() => undefined);
        return outcome(status, { reason: `${status === 'stopped' ? new StopRequestedError().message : message}${cleanup}`, sizeBefore: facts.totalBytes });
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
