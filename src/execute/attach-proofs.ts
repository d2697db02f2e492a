/**
 * What lets the swap ATTACH a partition's copy without scanning the default partition beside
 * it under its locks (plan/partition.ts): a CHECK constraint on the default partition that
 * excludes the copy's bound. Both statements lock the default partition, an application
 * table: each attempt is bounded by lock_timeout and retried with backoff like the capture
 * trigger. Idempotent: a prepared copy resumed later already has it.
 */
import { retryOnLock } from '../db/retry.js';
import { inTransaction, setLocalTimeouts } from '../db/session.js';
import { helperName } from '../plan/capture.js';
import { workNames } from '../plan/names.js';
import { defaultExclusion } from '../plan/partition.js';
import type { Step } from '../plan/step.js';
import type { TableRun } from './context.js';
import { runStep } from './steps.js';

export async function prepareAttach(run: TableRun): Promise<void> {
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
