/**
 * What lets the swap ATTACH a partition's copy without a scan under its locks
 * (plan/partition.ts): the partitioned table's foreign keys on the complete copy, and the
 * default partition's CHECK constraint excluding the copy's bound. Each statement locks an
 * application table (the referenced table, the default partition): each attempt is bounded by
 * lock_timeout and retried with backoff like the capture trigger. Idempotent: a prepared copy
 * resumed later already has them.
 */
import { retryOnLock } from '../db/retry.js';
import { inTransaction, setLocalTimeouts } from '../db/session.js';
import { helperName } from '../plan/capture.js';
import { workNames } from '../plan/names.js';
import { copyForeignKeys, defaultExclusion } from '../plan/partition.js';
import type { Step } from '../plan/step.js';
import type { TableRun } from './context.js';
import { runStep } from './steps.js';

export async function prepareAttach(run: TableRun): Promise<void> {
  await addCopyForeignKeys(run);
  await addDefaultExclusion(run);
}

async function addDefaultExclusion(run: TableRun): Promise<void> {
  const planned = defaultExclusion(run.facts);
  if (planned === null) return;
  const found = await run.work.query<{ convalidated: boolean }>(
    `SELECT convalidated FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2`,
    [planned.add.locks![0]!.table, planned.name],
  );
  if (found.rows.length === 0) await bounded(run, planned.add);
  if (found.rows[0]?.convalidated !== true) {
    const started = performance.now();
    await bounded(run, planned.validate);
    run.log.info(`${planned.validate.description}: ${((performance.now() - started) / 1000).toFixed(1)} s`, run.ref);
  }
}

async function addCopyForeignKeys(run: TableRun): Promise<void> {
  const planned = copyForeignKeys(run.facts);
  if (planned.length === 0) return;
  const existing = await run.work.query<{ conname: string; convalidated: boolean }>(
    `SELECT conname, convalidated FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'`,
    [helperName(workNames.copyTable(run.facts.oid))],
  );
  const state = new Map(existing.rows.map((r) => [r.conname, r.convalidated]));
  for (const fk of planned) {
    if (!state.has(fk.name)) await bounded(run, fk.add);
    if (fk.validate && state.get(fk.name) !== true) {
      const started = performance.now();
      await bounded(run, fk.validate);
      run.log.info(`foreign key ${fk.name} validated on the copy in ${((performance.now() - started) / 1000).toFixed(1)} s`, run.ref);
    }
  }
}

function bounded(run: TableRun, step: Step): Promise<void> {
  const { work } = run;
  return retryOnLock(
    {
      attempts: run.opts.swapAttempts,
      baseDelayMs: 500,
      maxDelayMs: 10_000,
      onRetry: (attempt) =>
        run.emit({
          type: 'warning', ref: run.ref,
          message: `${step.description}: lock on ${step.locks?.[0]?.table} not granted within ${run.conn.lockTimeoutMs} ms (attempt ${attempt}), retrying`,
        }),
    },
    () =>
      inTransaction(work, async () => {
        await setLocalTimeouts(work, { lockTimeoutMs: run.conn.lockTimeoutMs });
        await runStep(work, step);
      }),
  );
}
