/**
 * What lets the swap ATTACH a partition's copy without scanning the default partition beside
 * it under its locks (plan/partition.ts): a CHECK constraint on the default partition that
 * excludes the copy's bound. Both statements lock the default partition, an application
 * table: each attempt is bounded by lock_timeout and retried with backoff like the capture
 * trigger. Idempotent: a prepared copy resumed later already has it.
 */
import { defaultExclusion } from '../plan/partition.js';
import { runBounded } from './bounded.js';
import type { TableRun } from './context.js';

export async function prepareAttach(run: TableRun): Promise<void> {
  const planned = defaultExclusion(run.facts);
  if (planned === null) return;
  const found = await run.work.query<{ convalidated: boolean }>(
    `SELECT convalidated FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2`,
    [planned.add.locks![0]!.table, planned.name],
  );
  if (found.rows.length === 0) await runBounded(run, planned.add, planned.add.description);
  if (found.rows[0]?.convalidated !== true) {
    const started = performance.now();
    await runBounded(run, planned.validate, planned.validate.description);
    run.log.info(`${planned.validate.description}: ${((performance.now() - started) / 1000).toFixed(1)} s`, run.ref);
  }
}
