/**
 * The copy (invariant 2): one REPEATABLE READ transaction, started after the capture trigger
 * committed. Its first statement discards exactly the log rows its snapshot sees (those changes
 * are in the copy); everything the snapshot does not see stays in the log for replay.
 */
import { inTransaction } from '../db/session.js';
import type pg from 'pg';
import {
  attachConstraint, buildIndex, copyRows, createCopyTable, indexPlan, indexStatistics, maintenanceWorkers, setDefaultTablespace, setSequenceType,
} from '../plan/copy.js';
import { helperName } from '../plan/capture.js';
import { workNames } from '../plan/names.js';
import { quoteLiteral } from '../db/ident.js';
import { StopRequestedError, type TableRun } from './context.js';
import { testPause } from './test-hooks.js';
import { indexTablespace, NO_OPTIONS } from '../plan/table-options.js';
import { watchOrderedCopy } from './ordered-copy.js';
import { runStep, runSteps } from './steps.js';

/** PostgreSQL's MaxBlockNumber: an upper bound no heap page reaches. */
const LAST_BLOCK = 0xfffffffe;

export async function createCopy(run: TableRun): Promise<void> {
  const { work, facts } = run;
  await inTransaction(work, async () => {
    await runSteps(work, createCopyTable(facts, run.options));
    for (const id of facts.identitySequences) {
      if (id.dataType !== 'smallint' && id.dataType !== 'integer') continue;
      const seq = await work.query<{ name: string }>(`SELECT pg_get_serial_sequence($1, $2) AS name`, [
        helperName(workNames.copyTable(facts.oid)),
        id.column,
      ]);
      await runStep(work, setSequenceType(seq.rows[0]!.name, id.dataType));
    }
  });
}

/** Page ranges [from, to) covering the heap; the last is open-ended. */
export function pageRanges(pages: number, parts: number, maxChunk: number): [number, number][] {
  const size = Math.max(1, Math.min(maxChunk, Math.ceil(pages / Math.max(1, parts))));
  const ranges: [number, number][] = [];
  for (let from = 0; from + size < pages; from += size) ranges.push([from, from + size]);
  // Pages added since the size was read hold only rows this snapshot does not see; reading
  // them costs nothing and a bounded last range could miss nothing either way.
  ranges.push([ranges.length * size, LAST_BLOCK]);
  return ranges;
}

/**
 * Returns the number of rows copied. On PostgreSQL 14 and later the heap is split into page
 * ranges (TID range scans), copied by the work session and the helper sessions at once; the
 * helpers import the work session's snapshot (pg_export_snapshot / SET TRANSACTION SNAPSHOT),
 * so every range is read in the one snapshot whose log rows the work session discarded.
 */
export async function copyData(run: TableRun, helpers: pg.Client[]): Promise<number> {
  const { work, facts } = run;
  const estimate = Math.round(facts.estimatedRows);
  const order = run.options?.order ?? [];
  // An ordered copy is one statement: page ranges copied side by side would interleave the order.
  const ranged = run.serverVersion >= 140000 && order.length === 0;
  const sessions = ranged ? [work, ...helpers] : [work];
  const opened: pg.Client[] = [];
  try {
    await work.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    opened.push(work);
    const discarded = await work.query(`DELETE FROM ${helperName(workNames.logTable(facts.oid))}`);
    run.log.debug(`copy snapshot taken; ${discarded.rowCount ?? 0} log rows already in it discarded`, run.ref);
    await testPause('copy-snapshot');
    let copied = 0;
    if (!ranged) {
      const watch = order.length > 0 ? watchOrderedCopy(run, estimate) : null;
      let r;
      try {
        r = await runStep(work, copyRows(facts, false, order));
      } finally {
        await watch?.stop();
      }
      copied = r.rowCount ?? 0;
      run.emit({ type: 'copy-progress', ref: run.ref, rowsCopied: copied, rowsEstimate: estimate });
    } else {
      const snap = await work.query<{ id: string; pages: string }>(
        `SELECT pg_export_snapshot() AS id, (pg_relation_size($1::regclass) / current_setting('block_size')::int)::int8 AS pages`,
        [facts.oid],
      );
      for (const h of helpers) {
        await h.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        opened.push(h);
        await h.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snap.rows[0]!.id)}`);
      }
      const queue = pageRanges(Number(snap.rows[0]!.pages), sessions.length * 2, run.opts.copyChunkPages);
      const step = copyRows(facts, true);
      await Promise.all(
        sessions.map(async (client) => {
          for (let r = queue.shift(); r !== undefined; r = queue.shift()) {
            if (run.stopRequested()) throw new StopRequestedError();
            const res = await client.query(step.sql, [`(${r[0]},0)`, `(${r[1]},0)`]);
            copied += res.rowCount ?? 0;
            run.emit({ type: 'copy-progress', ref: run.ref, rowsCopied: copied, rowsEstimate: estimate });
          }
        }),
      );
    }
    // Helpers first: the work session's commit is what makes the discarded log rows final.
    for (const c of opened.slice(1)) await c.query('COMMIT');
    await work.query('COMMIT');
    return copied;
  } catch (err) {
    // Whatever committed, the run fails and its cleanup drops the copy.
    await Promise.all(opened.map((c) => c.query('ROLLBACK').catch(() => undefined)));
    throw err;
  }
}

/**
 * Builds the copy's indexes: EXCLUDE constraints alone, then every other index spread over
 * `sessions` connections (the work session and extra ones), then attaches the PRIMARY KEY and
 * UNIQUE constraints to their indexes. Only the copy is locked; the application is not involved.
 */
export async function buildIndexes(run: TableRun, helpers: pg.Client[]): Promise<void> {
  const { work, facts } = run;
  const plan = indexPlan(facts);
  const total = facts.indexes.length;
  let built = 0;
  const build = async (client: pg.Client, k: number, sideBySide: boolean) => {
    if (run.stopRequested()) throw new StopRequestedError();
    const index = facts.indexes[k]!;
    await inTransaction(client, async () => {
      const workers = maintenanceWorkers(sideBySide);
      if (workers) await runStep(client, workers);
      await runStep(client, setDefaultTablespace(indexTablespace(index.tablespace, run.options ?? NO_OPTIONS)));
      await runStep(client, buildIndex(facts, index, k));
      await runSteps(client, indexStatistics(facts, index, k));
    });
    built++;
    run.emit({ type: 'index-progress', ref: run.ref, built, total, name: index.name });
  };
  for (const k of plan.alone) await build(work, k, false);
  const queue = [...plan.parallel];
  const sessions = [work, ...helpers].slice(0, Math.max(1, queue.length));
  await Promise.all(
    sessions.map(async (client) => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift()) await build(client, k, sessions.length > 1);
    }),
  );
  for (const k of plan.attach) await runStep(work, attachConstraint(facts, facts.indexes[k]!, k));
}
