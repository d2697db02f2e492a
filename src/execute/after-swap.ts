/** What follows a committed swap: nothing here holds a lock the application waits for long. */
import type pg from 'pg';
import { isLockFailure, retryOnLock } from '../db/retry.js';
import { inTransaction, setLocalTimeouts } from '../db/session.js';
import { dropOldTable } from '../plan/swap.js';
import { cleanupOptions, removeWorkObjects } from './cleanup.js';
import type { TableRun } from './context.js';
import { validatePending } from './recovery.js';
import { runStep } from './steps.js';

/**
 * After the commit the table is the compact copy; what follows blocks no writer: foreign keys
 * rpcl re-created are validated (only those that were valid before), the old table and the
 * work objects are dropped under lock_timeout, statistics are refreshed.
 */
export async function afterSwap(run: TableRun) {
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
