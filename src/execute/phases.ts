/**
 * The phases of one table's run, in order: capture, copy (in one snapshot, or in chunks),
 * indexes, replay, swap. A run that resumes kept work starts where that work stopped.
 */
import type pg from 'pg';
import { connect } from '../db/connect.js';
import { createBatchTable } from '../plan/replay.js';
import { installCapture } from './capture.js';
import { chunkProgress, copyInChunks, startChunkedCopy } from './chunked-copy.js';
import type { TableRun } from './context.js';
import { buildIndexes, copyData, createCopy } from './copy.js';
import { prepareAttach } from './attach-proofs.js';
import { catchUp, newCatchUp } from './replay.js';
import { runStep } from './steps.js';
import { swapWithRetries } from './swap-retries.js';
import { testPause } from './test-hooks.js';
import { Throttle } from './throttle.js';

/**
 * fresh: nothing of this run exists yet; chunks: a chunked copy continues from its frontier;
 * replay: the copy is complete (prepared, or a chunked copy that had finished).
 */
export type StartFrom = 'fresh' | 'chunks' | 'replay';

/**
 * prepareOnly stops once the copy has caught up, leaving capture on. Returns null when only
 * preparing, else the swap's result.
 */
export async function runPhases(run: TableRun, how: { from: StartFrom; chunked: boolean; prepareOnly: boolean }) {
  const throttle = Throttle.create(run);
  if (how.from === 'fresh') await buildCopy(run, how.chunked ? throttle : null);
  if (how.from === 'chunks') {
    const p = await chunkProgress(run);
    run.emit({
      type: 'phase', ref: run.ref, phase: 'copy',
      detail: `continuing the chunked copy after key ${p.frontier ?? '(none yet)'}: ${p.rowsCopied} rows were already copied in ${p.chunks} chunks`,
    });
    await copyInChunks(run, throttle);
  }
  const { emit, ref } = run;
  // Only a run that goes on to the swap: a kept copy leaves no work object on another table.
  if (!how.prepareOnly) await prepareAttach(run);
  emit({ type: 'phase', ref, phase: 'replay' });
  await testPause('replay', run.stopRequested);
  await runStep(run.work, createBatchTable(run.facts));
  const state = newCatchUp(run, throttle);
  if (how.prepareOnly) {
    await catchUp(run, state);
    return null;
  }
  return swapWithRetries(run, state);
}

/** chunked: set for a chunked copy, which builds its indexes first, then copies in chunks. */
async function buildCopy(run: TableRun, chunked: Throttle | null): Promise<void> {
  const { emit, ref } = run;
  emit({ type: 'phase', ref, phase: 'capture' });
  await installCapture(run);
  if (chunked) {
    await createCopy(run);
    emit({ type: 'phase', ref, phase: 'index', detail: `${run.facts.indexes.length} indexes and constraints, on the empty copy` });
    await withHelpers(run, (helpers) => buildIndexes(run, helpers));
    await startChunkedCopy(run);
    emit({ type: 'phase', ref, phase: 'copy', detail: `in chunks of about ${run.conn.chunkTimeSeconds} s, each its own transaction` });
    await testPause('copy', run.stopRequested);
    await copyInChunks(run, chunked);
    return;
  }
  emit({ type: 'phase', ref, phase: 'copy' });
  await testPause('copy', run.stopRequested);
  await createCopy(run);
  await withHelpers(run, async (helpers) => {
    await copyData(run, helpers);
    emit({ type: 'phase', ref, phase: 'index', detail: `${run.facts.indexes.length} indexes and constraints` });
    await testPause('index', run.stopRequested);
    await buildIndexes(run, helpers);
  });
}

/** Helper sessions share the copy and the index builds with the work session. */
async function withHelpers(run: TableRun, body: (helpers: pg.Client[]) => Promise<void>): Promise<void> {
  const helpers = await Promise.all(
    Array.from({ length: Math.max(0, run.opts.parallelSessions - 1) }, () =>
      connect(run.conn, { home: run.home, applicationName: 'rpcl helper' }),
    ),
  );
  const pids = helpers.map((h) => (h as unknown as { processID: number }).processID);
  run.busyPids.push(...pids);
  try {
    await body(helpers);
  } finally {
    run.busyPids = run.busyPids.filter((p) => !pids.includes(p));
    await Promise.all(helpers.map((c) => c.end().catch(() => undefined)));
  }
}
