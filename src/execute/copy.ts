/**
 * The copy (invariant 2): one REPEATABLE READ transaction, started after the capture trigger
 * committed. Its first statement discards exactly the log rows its snapshot sees (those changes
 * are in the copy); everything the snapshot does not see stays in the log for replay.
 */
import { inTransaction } from '../db/session.js';
import type pg from 'pg';
import { attachConstraint, buildIndex, copyRows, createCopyTable, indexPlan, setDefaultTablespace } from '../plan/copy.js';
import { helperName } from '../plan/capture.js';
import { workNames } from '../plan/names.js';
import type { TableRun } from './context.js';
import { testPause } from './test-hooks.js';
import { runStep, runSteps } from './steps.js';

/** PostgreSQL's MaxBlockNumber: an upper bound no heap page reaches. */
const LAST_BLOCK = 0xfffffffe;

export async function createCopy(run: TableRun): Promise<void> {
  await inTransaction(run.work, () => runSteps(run.work, createCopyTable(run.facts)));
}

/** Returns the number of rows copied. */
export async function copyData(run: TableRun): Promise<number> {
  const { work, facts } = run;
  const estimate = Math.round(facts.estimatedRows);
  await work.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  try {
    const discarded = await work.query(`DELETE FROM ${helperName(workNames.logTable(facts.oid))}`);
    run.log.debug(`copy snapshot taken; ${discarded.rowCount ?? 0} log rows already in it discarded`, run.ref);
    await testPause('copy-snapshot');
    let copied = 0;
    // TID range scans exist from PostgreSQL 14: chunks then cost no more than one pass.
    if (run.serverVersion >= 140000) {
      const { rows } = await work.query<{ pages: string }>(
        `SELECT (pg_relation_size($1::regclass) / current_setting('block_size')::int)::int8 AS pages`,
        [facts.oid],
      );
      const pages = Number(rows[0]!.pages);
      const step = copyRows(facts, true);
      const chunk = run.opts.copyChunkPages;
      for (let from = 0; from < pages || from === 0; from += chunk) {
        if (run.stopRequested()) throw new Error('stopped on request during the copy');
        // The last chunk is open-ended: pages added since the size was read hold only rows
        // this snapshot does not see, but nothing is lost by reading them.
        const to = from + chunk >= pages ? LAST_BLOCK : from + chunk;
        const r = await work.query(step.sql, [`(${from},0)`, `(${to},0)`]);
        copied += r.rowCount ?? 0;
        run.emit({ type: 'copy-progress', ref: run.ref, rowsCopied: copied, rowsEstimate: estimate });
        if (to === LAST_BLOCK) break;
      }
    } else {
      const r = await runStep(work, copyRows(facts, false));
      copied = r.rowCount ?? 0;
      run.emit({ type: 'copy-progress', ref: run.ref, rowsCopied: copied, rowsEstimate: estimate });
    }
    await work.query('COMMIT');
    return copied;
  } catch (err) {
    await work.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Builds the copy's indexes: EXCLUDE constraints alone, then every other index spread over
 * `sessions` connections (the work session and extra ones), then attaches the PRIMARY KEY and
 * UNIQUE constraints to their indexes. Only the copy is locked; the application is not involved.
 */
export async function buildIndexes(run: TableRun, extraSessions: pg.Client[]): Promise<void> {
  const { work, facts } = run;
  const plan = indexPlan(facts);
  const total = facts.indexes.length;
  let built = 0;
  const build = async (client: pg.Client, k: number) => {
    if (run.stopRequested()) throw new Error('stopped on request while building indexes');
    const index = facts.indexes[k]!;
    await inTransaction(client, async () => {
      await runStep(client, setDefaultTablespace(index.tablespace));
      await runStep(client, buildIndex(facts, index, k));
    });
    built++;
    run.emit({ type: 'index-progress', ref: run.ref, built, total, name: index.name });
  };
  for (const k of plan.alone) await build(work, k);
  const queue = [...plan.parallel];
  await Promise.all(
    [work, ...extraSessions].map(async (client) => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift()) await build(client, k);
    }),
  );
  for (const k of plan.attach) await runStep(work, attachConstraint(facts, facts.indexes[k]!, k));
}
