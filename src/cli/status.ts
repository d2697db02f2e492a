/**
 * `status`: what every run is doing, read from the state table, so it works from any terminal
 * or host. A run marked running whose advisory lock is gone has died: say so.
 */
import { connect } from '../db/connect.js';
import { ExitCode } from '../errors.js';
import { helperSchemaState, liveRunLocks } from '../inspect/helper-schema.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { quoteIdent } from '../db/ident.js';
import type { Runtime } from './runtime.js';

export interface StatusRow {
  connection: string;
  table: string;
  status: string;
  live: boolean;
  phase: string;
  rows_copied: number | null;
  rows_estimate: number | null;
  backlog: number | null;
  change_rate: number | null;
  replay_rate: number | null;
  predicted_swap_ms: number | null;
  started_at: string;
  elapsed_s: number;
  remaining_s: number | null;
  size_before: number | null;
  size_after: number | null;
  runner: string;
  /** A chunked copy is kept: the next repack_tables continues it. */
  kept_chunked_copy: boolean;
  /** What holds the run back right now: a pause, max_wal_rate, max_replica_lag, sleep_ratio. */
  throttle: string | null;
  last_error: string | null;
}

/** Rough time left: the copy's pace so far, or the backlog at the net drain rate. */
export function remainingSeconds(r: Pick<StatusRow, 'phase' | 'rows_copied' | 'rows_estimate' | 'backlog' | 'change_rate' | 'replay_rate'>, phaseElapsedS: number): number | null {
  if (r.phase === 'copy' && r.rows_copied && r.rows_estimate && r.rows_copied > 0) {
    return Math.max(0, (phaseElapsedS * (r.rows_estimate - r.rows_copied)) / r.rows_copied);
  }
  if (r.phase === 'replay' && r.backlog !== null && r.replay_rate) {
    const drain = r.replay_rate - (r.change_rate ?? 0);
    return drain > 0 ? r.backlog / drain : null;
  }
  return null;
}

export async function collectStatus(rt: Runtime): Promise<StatusRow[]> {
  const out: StatusRow[] = [];
  for (const conn of rt.connections) {
    const client = await connect(conn, { home: rt.home, applicationName: 'rpcl status' });
    try {
      if ((await helperSchemaState(client)).kind !== 'ours') continue;
      const live = new Set((await liveRunLocks(client)).map((l) => l.tableOid));
      const { rows } = await client.query(
        `SELECT DISTINCT ON (table_oid) table_oid::int8 AS oid, quote_ident(schema_name) || '.' || quote_ident(table_name) AS tbl,
                status, phase, rows_copied, rows_estimate, backlog, change_rate, replay_rate, predicted_swap_ms,
                started_at::text AS started_at, extract(epoch FROM coalesce(ended_at, clock_timestamp()) - started_at)::float8 AS elapsed,
                extract(epoch FROM clock_timestamp() - phase_started_at)::float8 AS phase_elapsed,
                size_before, size_after, runner_host || ':' || runner_pid AS runner, last_error,
                to_jsonb(r) ->> 'throttle' AS throttle,
                to_regclass(format('%I.%I', $1::text, 'progress_' || table_oid)) IS NOT NULL AS chunked
         FROM ${quoteIdent(HELPER_SCHEMA)}.runs r ORDER BY table_oid, run_id DESC`,
        [HELPER_SCHEMA],
      );
      for (const r of rows) {
        const row: StatusRow = {
          connection: conn.name, table: r.tbl, status: r.status, live: live.has(Number(r.oid)), phase: r.phase,
          rows_copied: r.rows_copied === null ? null : Number(r.rows_copied),
          rows_estimate: r.rows_estimate === null ? null : Number(r.rows_estimate),
          backlog: r.backlog === null ? null : Number(r.backlog),
          change_rate: r.change_rate, replay_rate: r.replay_rate, predicted_swap_ms: r.predicted_swap_ms,
          started_at: r.started_at, elapsed_s: Math.round(r.elapsed), remaining_s: null,
          size_before: r.size_before === null ? null : Number(r.size_before),
          size_after: r.size_after === null ? null : Number(r.size_after),
          runner: r.runner, kept_chunked_copy: r.chunked && r.status !== 'done', throttle: null, last_error: r.last_error,
        };
        if (row.status === 'running' && !row.live) row.status = 'died';
        if (row.status === 'running') {
          row.remaining_s = remainingSeconds(row, r.phase_elapsed);
          row.throttle = r.throttle;
        }
        out.push(row);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return out;
}

export function renderStatus(rows: StatusRow[]): string {
  if (rows.length === 0) return 'no rpcl runs recorded';
  const num = (n: number | null, unit = '') => (n === null ? '-' : `${Math.round(n)}${unit}`);
  return rows
    .map((r) => {
      const progress =
        r.phase === 'copy' ? ` copied ${num(r.rows_copied)} of ~${num(r.rows_estimate)} rows` :
        r.phase === 'replay' || r.phase === 'swap'
          ? ` backlog ${num(r.backlog)}, changes ${num(r.change_rate, '/s')}, replay ${num(r.replay_rate, '/s')}, predicted swap ${num(r.predicted_swap_ms, ' ms')}`
          : '';
      const remaining = r.remaining_s === null ? '' : `, about ${Math.round(r.remaining_s)} s left`;
      const throttled = r.throttle === null ? '' : `\n    throttled: ${r.throttle}`;
      const died =
        r.status !== 'died' ? '' :
        r.kept_chunked_copy ? ' (its process is gone: the next repack_tables continues its chunked copy, abort_repack removes it)' :
        ' (its process is gone: the next repack_tables or abort_repack cleans it up)';
      const error = r.last_error ? `\n    last error: ${r.last_error}` : '';
      return `${r.connection} ${r.table}: ${r.status}${died}, phase ${r.phase},${progress} elapsed ${r.elapsed_s} s${remaining} [${r.runner}]${throttled}${error}`;
    })
    .join('\n');
}

export async function statusCommand(rt: Runtime, json: boolean): Promise<number> {
  const rows = await collectStatus(rt);
  process.stdout.write(`${json ? JSON.stringify(rows, null, 2) : renderStatus(rows)}\n`);
  return ExitCode.ok;
}
