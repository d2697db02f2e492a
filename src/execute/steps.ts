/** Runs planned steps on a session. */
import type pg from 'pg';
import type { Step } from '../plan/step.js';

export async function runStep(client: pg.Client, step: Step): Promise<pg.QueryResult> {
  return client.query(step.sql, step.params as unknown[] | undefined);
}

export async function runSteps(client: pg.Client, steps: Step[]): Promise<void> {
  for (const step of steps) await runStep(client, step);
}
