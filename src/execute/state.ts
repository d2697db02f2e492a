/** The run's row in rpcl.runs: written by the control session as the run goes. */
import { hostname } from 'node:os';
import type pg from 'pg';
import type { TableFacts } from '../inspect/facts.js';
import type { PartitionPlace } from '../inspect/select.js';
import type { Phase } from '../report/events.js';
import { helperName } from '../plan/capture.js';
import { workNames } from '../plan/names.js';

export async function insertRun(
  control: pg.Client,
  facts: TableFacts,
  ids: { configName: string; connection: string; partitionOf?: PartitionPlace | null; fingerprint?: string },
): Promise<number> {
  const place = ids.partitionOf ?? null;
  const { rows } = await control.query<{ run_id: string }>(
    `INSERT INTO rpcl.runs (table_oid, schema_name, table_name, config_name, connection_name, phase, status,
                            size_before, rows_estimate, runner_pid, runner_host, fingerprint, relfilenode,
                            partition_of, partition_number, partitions_in_run)
     VALUES ($1, $2, $3, $4, $5, 'starting', 'running', $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING run_id`,
    [facts.oid, facts.schema, facts.name, ids.configName, ids.connection, facts.totalBytes,
      Math.round(facts.estimatedRows), process.pid, hostname(), ids.fingerprint ?? facts.fingerprint, facts.relfilenode,
      place?.root ?? null, place?.number ?? null, place?.of ?? null],
  );
  return Number(rows[0]!.run_id);
}

export interface RunUpdate {
  phase?: Phase;
  status?: 'running' | 'prepared' | 'done' | 'failed' | 'aborted' | 'stopped';
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
  // An ended run is held back by nothing, and a pause asked of it must not reach its successor.
  if (u.ended) sets.push('ended_at = clock_timestamp()', 'throttle = NULL', 'pause_requested = false');
  if (sets.length === 0) return;
  await control.query(`UPDATE rpcl.runs SET ${sets.join(', ')} WHERE run_id = $1`, params);
}

export interface PreparedRun {
  runId: number;
  fingerprint: string | null;
  relfilenode: number | null;
}

/** The latest run of a table if it was left prepared. */
export async function findPrepared(control: pg.Client, oid: number): Promise<PreparedRun | null> {
  const { rows } = await control.query(
    `SELECT run_id, status, fingerprint, relfilenode::int8 AS relfilenode FROM rpcl.runs
     WHERE table_oid = $1::oid ORDER BY run_id DESC LIMIT 1`,
    [oid],
  );
  const r = rows[0];
  if (r === undefined || r.status !== 'prepared') return null;
  return { runId: Number(r.run_id), fingerprint: r.fingerprint, relfilenode: r.relfilenode === null ? null : Number(r.relfilenode) };
}

export interface KeptRun extends PreparedRun {
  /** A chunked copy: its progress table exists. */
  chunked: boolean;
  /** For a chunked copy: every chunk is in. */
  copyComplete: boolean;
}

/**
 * The latest run of a table if its work was kept on purpose: prepared, or a chunked copy that
 * stopped (on request, by a lost connection, or because its process died). The caller holds
 * the table's advisory lock, so a run marked running is no longer running.
 */
export async function findKept(control: pg.Client, oid: number): Promise<KeptRun | null> {
  const latest = await control.query(
    `SELECT run_id, status, fingerprint, relfilenode::int8 AS relfilenode, to_regclass($2) IS NOT NULL AS chunked
     FROM rpcl.runs WHERE table_oid = $1::oid ORDER BY run_id DESC LIMIT 1`,
    [oid, helperName(workNames.progressTable(oid))],
  );
  const r = latest.rows[0];
  if (r === undefined) return null;
  if (r.status !== 'prepared' && !(r.chunked && ['running', 'stopped'].includes(r.status))) return null;
  let copyComplete = !r.chunked;
  if (r.chunked) {
    const p = await control.query<{ complete: boolean }>(`SELECT rpcl_complete AS complete FROM ${helperName(workNames.progressTable(oid))} WHERE rpcl_kind = 'frontier'`);
    if (p.rows[0] === undefined) return null;
    copyComplete = p.rows[0].complete;
  }
  return {
    runId: Number(r.run_id), fingerprint: r.fingerprint, relfilenode: r.relfilenode === null ? null : Number(r.relfilenode),
    chunked: r.chunked, copyComplete,
  };
}

/** A prepared run is taken over by this process. */
export async function resumeRun(control: pg.Client, runId: number): Promise<void> {
  await control.query(
    `UPDATE rpcl.runs SET status = 'running', runner_pid = $2, runner_host = $3, runner_backend_pid = pg_backend_pid(),
       pause_requested = false, throttle = NULL
     WHERE run_id = $1`,
    [runId, process.pid, hostname()],
  );
}
