/** Installs the change capture: log table and function freely, triggers under lock_timeout. */
import { inTransaction } from '../db/session.js';
import { runBounded } from './bounded.js';
import { createCaptureFunction, createCaptureTriggers, createLogTable } from '../plan/capture.js';
import type { TableRun } from './context.js';
import { runStep } from './steps.js';

export async function installCapture(run: TableRun): Promise<void> {
  const { work, facts } = run;
  await inTransaction(work, async () => {
    await runStep(work, createLogTable(facts));
    await runStep(work, createCaptureFunction(facts));
  });
  await runBounded(run, createCaptureTriggers(facts), 'creating the capture trigger');
}
