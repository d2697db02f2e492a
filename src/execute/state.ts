/** The run's row in rpcl.runs: written by the control session as the run goes. */
import { hostname } from 'node:os';
import type pg from 'pg';
import type { TableFacts } from '../inspect/facts.js';
import type { Phase } from '../report/events.js';

export async function insertRun(
  control: pg.Client,
  facts: TableFacts,
  ids: { configName: string; connection: string },
): Promise<number> {
  const { rows } = await control.query<{ run_id: string }>(
    `INSERT INTO rpcl.runs (table_oid, schema_name, table_name, config_name, connection_name, phase, status,
                            size_before, rows_estimate, runner_pid, runner_host)
     VALUES ($1, $2, $3, $4, $5, 'starting', 'running', $6, $7, $8, $9) RETURNING run_id`,
    [facts.oid, facts.schema, facts.name, ids.configName, ids.connection, facts.totalBytes,
      Math.round(facts.estimatedRows), process.pid, hostname()],
  );
  return Number(rows[0]!.run_id);
}

export interface RunUpdate {
  phase?: Phase;
  status?: 'running' | 'prepared' | 'done' | 'failed' | 'aborted';
  rowsCopied?: number;
  backlog?: number;
  changeRate?: number | null;
  replayRate?: number | null;
  predictedSwapMs?: number | null;
  sizeAfter?: number;
  copyOid?: number;
  logOid?: number;
  lastError?: string;
  ended?: boolean;
}

const COLUMNS: Record<Exclude<keyof RunUpdate, 'ended'>, string> = {
  phase: 'phase',
  status: 'status',
  rowsCopied: 'rows_copied',
  backlog: 'backlog',
  changeRate: 'change_rate',
  replayRate: 'replay_rate',
  predictedSwapMs: 'predicted_swap_ms',
  sizeAfter: 'size_after',
  copyOid: 'copy_oid',
  logOid: 'log_oid',
  lastError: 'last_error',
};

export async function updateRun(control: pg.Client, runId: number, u: RunUpdate): Promise<void> {
  const sets: string[] = [];
  const params: unknown[] = [runId];
  for (const [key, column] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, string][]) {
    if (u[key] === undefined) continue;
    params.push(u[key]);
    sets.push(`${column} = $${params.length}`);
  }
  if (u.phase !== undefined) sets.push('phase_started_at = clock_timestamp()');
  if (u.ended) sets.push('ended_at = clock_timestamp()');
  if (sets.length === 0) return;
  await control.query(`UPDATE rpcl.runs SET ${sets.join(', ')} WHERE run_id = $1`, params);
}
