/** Installs the change capture: log table and function freely, triggers under lock_timeout. */
import { retryOnLock } from '../db/retry.js';
import { inTransaction, setLocalTimeouts } from '../db/session.js';
import { createCaptureFunction, createCaptureTriggers, createLogTable } from '../plan/capture.js';
import type { TableRun } from './context.js';
import { runStep } from './steps.js';

export async function installCapture(run: TableRun): Promise<void> {
  const { work, facts } = run;
  await inTransaction(work, async () => {
    await runStep(work, createLogTable(facts));
    await runStep(work, createCaptureFunction(facts));
  });
  const triggers = createCaptureTriggers(facts);
  await retryOnLock(
    {
      attempts: run.opts.swapAttempts,
      baseDelayMs: 500,
      maxDelayMs: 10_000,
      onRetry: (attempt) =>
        run.emit({
          type: 'warning',
          ref: run.ref,
          message: `creating the capture trigger: lock not granted within ${run.conn.lockTimeoutMs} ms (attempt ${attempt}), retrying`,
        }),
    },
    () =>
      inTransaction(work, async () => {
        await setLocalTimeouts(work, { lockTimeoutMs: run.conn.lockTimeoutMs });
        await runStep(work, triggers);
      }),
  );
}
