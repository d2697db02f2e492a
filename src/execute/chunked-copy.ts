/**
 * The chunked copy's executor (plan/chunked-copy.ts holds the SQL and the argument for why
 * the copy is right after every commit). Each chunk is one short REPEATABLE READ transaction on
 * the work session: replay the logged keys in the copied range, copy the next key range, move
 * the frontier. Between chunks no transaction is open, so the throttle may sleep as long as it
 * must and a stop, a crash or a lost connection loses at most the chunk in flight.
 */
import { inTransaction } from '../db/session.js';
import { copyChunk, createProgressTable, markCopyComplete, readProgress, takeChunkLogBatch } from '../plan/chunked-copy.js';
import { createBatchTable } from '../plan/replay.js';
import { ChunkSizer } from './chunk-sizer.js';
import { StopRequestedError, type TableRun } from './context.js';
import { applyBatch, assertDefinitionUnchanged, recordNewStorage } from './replay.js';
import { runStep, runSteps } from './steps.js';
import { testPause } from './test-hooks.js';
import { WAL_BURST_SECONDS, walPosition, type Throttle } from './throttle.js';

export interface ChunkProgress {
  rowsCopied: number;
  chunks: number;
  complete: boolean;
  /** The last key copied, as text (`(42)`), or null before the first chunk. */
  frontier: string | null;
}

/** Marks the empty copy, its indexes built, as ready to be filled chunk by chunk. */
export async function startChunkedCopy(run: TableRun): Promise<void> {
  await inTransaction(run.work, () => runSteps(run.work, createProgressTable(run.facts)));
  run.keepsWork = true;
}

export async function chunkProgress(run: TableRun): Promise<ChunkProgress> {
  const r = (await runStep(run.work, readProgress(run.facts))).rows[0];
  return { rowsCopied: Number(r.rows_copied), chunks: Number(r.chunks), complete: r.complete, frontier: r.frontier };
}

/** Copies chunk after chunk from the committed frontier until a chunk comes back short. */
export async function copyInChunks(run: TableRun, throttle: Throttle): Promise<ChunkProgress> {
  const { work, facts } = run;
  await runStep(work, createBatchTable(facts));
  let progress = await chunkProgress(run);
  // With max_wal_rate, one chunk writes at most the throttle's burst of WAL.
  const walBudget = run.conn.maxWalRateMBps === null ? null : run.conn.maxWalRateMBps * 1024 * 1024 * WAL_BURST_SECONDS;
  const sizer = new ChunkSizer(run.conn.chunkTimeSeconds * 1000, undefined, walBudget);
  const wal = async () => (walBudget === null ? 0 : walPosition(work));
  const estimate = Math.max(Math.round(facts.estimatedRows), progress.rowsCopied);
  let reported = 0;
  let checked = Date.now();
  while (!progress.complete) {
    if (run.stopRequested()) throw new StopRequestedError();
    // A copy that lasts hours must not find out only at its end that the table was altered or
    // rewritten meanwhile: checked every check_time, as replay does.
    if (Date.now() - checked >= run.conn.checkTimeSeconds * 1000) {
      await assertDefinitionUnchanged(run.control, run);
      checked = Date.now();
    }
    await throttle.between();
    const rows = sizer.next();
    const walBefore = await wal();
    const started = performance.now();
    await work.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      const batch = await applyBatch(work, run, takeChunkLogBatch(facts));
      if (batch.truncated) await recordNewStorage(work, run);
      const copied = Number((await runStep(work, copyChunk(facts, rows, progress.frontier === null))).rows[0].rows);
      if (copied < rows) await runStep(work, markCopyComplete(facts));
      await testPause('copy-chunk');
      await work.query('COMMIT');
    } catch (err) {
      await work.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    const ms = performance.now() - started;
    progress = await chunkProgress(run);
    sizer.record(rows, ms, (await wal()) - walBefore);
    throttle.worked(ms);
    if (progress.complete || Date.now() - reported >= 1000) {
      reported = Date.now();
      run.emit({ type: 'copy-progress', ref: run.ref, rowsCopied: progress.rowsCopied, rowsEstimate: Math.max(estimate, progress.rowsCopied) });
    }
  }
  run.log.info(`copied ${progress.rowsCopied} rows in ${progress.chunks} chunks`, run.ref);
  return progress;
}
