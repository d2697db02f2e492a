/**
 * A statement that locks an application table, outside the swap: each attempt waits at most
 * lock_timeout (the application's queries queue behind it no longer than that), then rolls back
 * and is retried with backoff, a bounded number of times, each retry said as a warning.
 */
import { retryOnLock } from '../db/retry.js';
import { inTransaction, setLocalTimeouts } from '../db/session.js';
import type { Step } from '../plan/step.js';
import type { TableRun } from './context.js';
import { runStep } from './steps.js';

/** `what`: how the warning names the statement. */
export function runBounded(run: TableRun, step: Step, what: string): Promise<void> {
  const { work } = run;
  return retryOnLock(
    {
      attempts: run.opts.swapAttempts,
      baseDelayMs: 500,
      maxDelayMs: 10_000,
      onRetry: (attempt) =>
        run.emit({
          type: 'warning',
          ref: run.ref,
          message: `${what}: lock not granted within ${run.conn.lockTimeoutMs} ms (attempt ${attempt}), retrying`,
        }),
    },
    () =>
      inTransaction(work, async () => {
        await setLocalTimeouts(work, { lockTimeoutMs: run.conn.lockTimeoutMs });
        await runStep(work, step);
      }),
  );
}
