/**
 * `status`: what every run is doing, read from the state table, so it works from any terminal
 * or host. A run marked running whose advisory lock is gone has died: say so.
 *
 * What moves fast is read live rather than from the run's row, which is written only every
 * check_time: the backlog is counted in the change log itself, the index builds in the catalog,
 * a snapshot copy's progress (before it reports rows) from the copy's size. A prepared copy is
 * tracked too: replay_data records its own pid and host on the row while it works on it, and
 * holds the table's advisory lock meanwhile (live).
 */
import type pg from 'pg';
import { connect } from '../db/connect.js';
import { ExitCode } from '../errors.js';
import { helperSchemaState, liveRunLocks } from '../inspect/helper-schema.js';
import { estimateTables, expectedCopyTableBytes } from '../inspect/select.js';
import { HELPER_SCHEMA, workNames } from '../plan/names.js';
import { quoteIdent } from '../db/ident.js';
import { formatBytes, formatRate } from '../report/log-events.js';
import type { Runtime } from './runtime.js';
import { BACKLOG_CAP, backlogOf } from '../execute/replay.js';
import { readOutcome } from './outcome-file.js';

/**
 * One table's latest run. `--json` prints these objects as they are: the names are stable
 * (snake_case); a figure that is not known, or means nothing in the run's phase, is null.
 */
export interface StatusRow {
  connection: string;
  table: string;
  /** running, died (running, but its process is gone), prepared, done, failed, stopped, aborted. */
  status: string;
  /** A session holds the table's advisory lock: a run, or replay_data on a prepared copy. */
  live: boolean;
  phase: string;
  /** Rows the copy reported (a snapshot copy reports when a page range is done). */
  rows_copied: number | null;
  /** Rows the table had by its statistics when the run started. */
  rows_estimate: number | null;
  /** Copy phase: the copy's heap and TOAST written so far (uncommitted rows included). */
  copy_bytes: number | null;
  /** Copy phase: what the copy's heap and TOAST should come to, by the bloat estimate. */
  copy_bytes_expected: number | null;
  /** Index phase: indexes built on the copy so far, and how many it gets. */
  indexes_built: number | null;
  indexes_total: number | null;
  /** Change-log rows not replayed yet, counted in the log now (capped: see backlog_capped). */
  backlog: number | null;
  /** The count stopped at BACKLOG_CAP rows: the backlog is at least that. */
  backlog_capped: boolean;
  /** Rows per second the application adds to the log, and replay drains from it. */
  change_rate: number | null;
  replay_rate: number | null;
  /** The final catch-up under the swap lock, predicted (redone here for the live backlog). */
  predicted_swap_ms: number | null;
  started_at: string;
  ended_at: string | null;
  elapsed_s: number;
  /** Time in the current phase (for a prepared copy not being replayed: since its last replay). */
  phase_elapsed_s: number;
  remaining_s: number | null;
  /** What remaining_s is extrapolated from: rows copied, copy size, indexes built, backlog. */
  remaining_basis: string | null;
  size_before: number | null;
  size_after: number | null;
  /** `host:pid` of the process that works (or last worked) on it: the run, or replay_data. */
  runner: string;
  runner_pid: number | null;
  runner_host: string | null;
  /** A chunked copy is kept: the next repack_tables continues it. */
  kept_chunked_copy: boolean;
  /** What holds the run back right now: a pause, max_wal_rate, max_replica_lag, sleep_ratio. */
  throttle: string | null;
  /** A leaf partition: its root partitioned table, and its place among that table's leaves in the run. */
  partition_of: string | null;
  partition_number: number | null;
  partitions_in_run: number | null;
  last_error: string | null;
}


type Progress = Pick<StatusRow, 'phase' | 'rows_copied' | 'rows_estimate' | 'backlog' | 'change_rate' | 'replay_rate'> &
  Partial<Pick<StatusRow, 'copy_bytes' | 'copy_bytes_expected' | 'indexes_built' | 'indexes_total'>>;

/**
 * Rough time left in the current phase, and what it is extrapolated from: the copy's pace (rows
 * copied, or before any are reported, the copy's size), the indexes built so far, or the
 * backlog at the net drain rate (replay rate minus change rate). Null when nothing can tell.
 */
export function timeLeft(r: Progress, phaseElapsedS: number): { seconds: number; basis: string } | null {
  const pace = (done: number, total: number) => Math.max(0, (phaseElapsedS * (total - done)) / done);
  if (r.phase === 'copy') {
    if (r.rows_copied && r.rows_estimate) return { seconds: pace(r.rows_copied, r.rows_estimate), basis: 'rows copied' };
    if (r.copy_bytes && r.copy_bytes_expected) return { seconds: pace(r.copy_bytes, r.copy_bytes_expected), basis: 'copy size' };
    return null;
  }
  if (r.phase === 'index' && r.indexes_built && r.indexes_total) {
    return { seconds: pace(r.indexes_built, r.indexes_total), basis: 'indexes built' };
  }
  if (r.phase === 'replay' && r.backlog !== null) {
    if (r.backlog === 0) return { seconds: 0, basis: 'backlog' };
    if (!r.replay_rate) return null;
    const drain = r.replay_rate - (r.change_rate ?? 0);
    return drain > 0 ? { seconds: r.backlog / drain, basis: 'backlog at the net drain rate' } : null;
  }
  return null;
}

export function remainingSeconds(r: Progress, phaseElapsedS: number): number | null {
  return timeLeft(r, phaseElapsedS)?.seconds ?? null;
}

/** A figure read live; null when it cannot be read (rights, a lock, the object went away). */
async function readLive<T>(body: () => Promise<T>): Promise<T | null> {
  try {
    return await body();
  } catch {
    return null;
  }
}

interface LiveFigures {
  backlog: { n: number; capped: boolean } | null;
  indexes: { built: number; total: number } | null;
  copy: { bytes: number; expected: number } | null;
}

/** Reads what the run's row holds only as of its last write: never waits for rpcl's locks. */
async function liveFigures(client: pg.Client, oid: number, phase: string): Promise<LiveFigures> {
  const name = (n: string) => `${quoteIdent(HELPER_SCHEMA)}.${quoteIdent(n)}`;
  const present = await client.query<{ log: boolean; copy: string | null }>(
    `SELECT to_regclass($1) IS NOT NULL AS log, to_regclass($2)::oid::int8 AS copy`,
    [name(workNames.logTable(oid)), name(workNames.copyTable(oid))],
  );
  const copyOid = present.rows[0]?.copy === null || present.rows[0]?.copy === undefined ? null : Number(present.rows[0].copy);
  const out: LiveFigures = { backlog: null, indexes: null, copy: null };
  if (present.rows[0]?.log) {
    // During a snapshot copy this includes the log rows its snapshot will discard at commit.
    out.backlog = await readLive(async () => {
      const n = await backlogOf(client, oid);
      return { n, capped: n >= BACKLOG_CAP };
    });
  }
  if (phase === 'index' && copyOid !== null) {
    // Each index is built in its own transaction: the catalog shows those committed.
    out.indexes = await readLive(async () => {
      const { rows } = await client.query<{ built: string; total: string }>(
        `SELECT (SELECT count(*) FROM pg_index WHERE indrelid = $1::oid)::int8 AS built,
                (SELECT count(*) FROM pg_index WHERE indrelid = $2::oid)::int8 AS total`,
        [copyOid, oid],
      );
      return { built: Number(rows[0]!.built), total: Number(rows[0]!.total) };
    });
  }
  if (phase === 'copy' && copyOid !== null) {
    // The file grows as rows are written, committed or not: a snapshot copy's progress before
    // it reports rows (on PostgreSQL 13, only at its end).
    out.copy = await readLive(async () => {
      const size = await client.query<{ n: string }>(`SELECT pg_table_size($1::oid)::int8 AS n`, [copyOid]);
      const [estimate] = await estimateTables(client, [oid]);
      return estimate === undefined ? null : { bytes: Number(size.rows[0]!.n), expected: expectedCopyTableBytes(estimate) };
    });
  }
  return out;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));

export async function collectStatus(rt: Runtime): Promise<StatusRow[]> {
  const out: StatusRow[] = [];
  for (const conn of rt.connections) {
    const client = await connect(conn, { home: rt.home, applicationName: 'rpcl status' });
    try {
      if ((await helperSchemaState(client)).kind !== 'ours') continue;
      // Status only looks: it never waits for a lock rpcl's runs hold, nor holds up their drops.
      await client.query(`SET lock_timeout = '200ms'; SET statement_timeout = '10s'`);
      const live = new Set((await liveRunLocks(client)).map((l) => l.tableOid));
      const { rows } = await client.query(
        // Per table by name: a swap gives the table a new OID, and its earlier runs (under the
        // old one) are history, not another table.
        `SELECT DISTINCT ON (schema_name, table_name) table_oid::int8 AS oid, quote_ident(schema_name) || '.' || quote_ident(table_name) AS tbl,
                status, phase, rows_copied, rows_estimate, backlog, change_rate, replay_rate, predicted_swap_ms,
                started_at::text AS started_at, ended_at::text AS ended_at,
                extract(epoch FROM coalesce(ended_at, clock_timestamp()) - started_at)::float8 AS elapsed,
                extract(epoch FROM clock_timestamp() - phase_started_at)::float8 AS phase_elapsed,
                size_before, size_after, runner_host || ':' || runner_pid AS runner, runner_host, runner_pid, last_error,
                to_jsonb(r) ->> 'throttle' AS throttle, to_jsonb(r) ->> 'partition_of' AS partition_of,
                (to_jsonb(r) ->> 'partition_number')::int AS partition_number, (to_jsonb(r) ->> 'partitions_in_run')::int AS partitions_in_run,
                to_regclass(format('%I.%I', $1::text, 'progress_' || table_oid)) IS NOT NULL AS chunked
         FROM ${quoteIdent(HELPER_SCHEMA)}.runs r ORDER BY schema_name, table_name, run_id DESC`,
        [HELPER_SCHEMA],
      );
      for (const r of rows) {
        const oid = Number(r.oid);
        const row: StatusRow = {
          connection: conn.name, table: r.tbl, status: r.status, live: live.has(oid), phase: r.phase,
          rows_copied: num(r.rows_copied), rows_estimate: num(r.rows_estimate),
          copy_bytes: null, copy_bytes_expected: null, indexes_built: null, indexes_total: null,
          backlog: num(r.backlog), backlog_capped: false,
          change_rate: r.change_rate, replay_rate: r.replay_rate, predicted_swap_ms: r.predicted_swap_ms,
          started_at: r.started_at, ended_at: r.ended_at, elapsed_s: Math.round(r.elapsed), phase_elapsed_s: Math.round(r.phase_elapsed),
          remaining_s: null, remaining_basis: null,
          size_before: num(r.size_before), size_after: num(r.size_after),
          runner: r.runner, runner_pid: num(r.runner_pid), runner_host: r.runner_host,
          kept_chunked_copy: r.chunked && r.status !== 'done', throttle: null,
          partition_of: r.partition_of, partition_number: r.partition_number, partitions_in_run: r.partitions_in_run,
          last_error: r.last_error,
        };
        if (row.status === 'running' && !row.live) row.status = 'died';
        if (['running', 'died', 'prepared', 'stopped'].includes(row.status) || row.live) {
          const f = await liveFigures(client, oid, row.phase);
          if (f.backlog !== null) {
            if (f.backlog.n !== row.backlog) {
              // The prediction was for the backlog the run last wrote: redone for this one.
              row.predicted_swap_ms = row.replay_rate ? Math.round((1000 * f.backlog.n) / row.replay_rate) : null;
            }
            row.backlog = f.backlog.n;
            row.backlog_capped = f.backlog.capped;
          }
          if (f.indexes !== null) {
            row.indexes_built = f.indexes.built;
            row.indexes_total = f.indexes.total;
          }
          if (f.copy !== null) {
            row.copy_bytes = f.copy.bytes;
            row.copy_bytes_expected = f.copy.expected;
          }
        }
        if (row.live) {
          const left = timeLeft(row, r.phase_elapsed);
          row.remaining_s = left === null ? null : Math.round(left.seconds);
          row.remaining_basis = left?.basis ?? null;
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

function statusText(r: StatusRow): string {
  if (r.status === 'died') {
    return r.kept_chunked_copy
      ? 'died (its process is gone: the next repack_tables continues its chunked copy, abort_repack removes it)'
      : 'died (its process is gone: the next repack_tables or abort_repack cleans it up)';
  }
  if (r.status === 'prepared') {
    return r.live && r.phase === 'replay'
      ? `prepared, being brought up to date by pid ${r.runner_pid ?? '?'} on ${r.runner_host ?? '?'}`
      : 'prepared (capture logs every change: replay_data applies them, repack_tables swaps the copy, abort_repack removes it)';
  }
  if (r.status === 'aborted' && r.phase === 'aborted') return `aborted: ${r.last_error}`;
  return r.status;
}

export function renderStatus(rows: StatusRow[]): string {
  if (rows.length === 0) return 'no rpcl runs recorded';
  const n = (v: number | null, unit = '') => (v === null ? 'unknown' : `${Math.round(v)}${unit}`);
  const rate = (v: number | null) => (v === null ? 'not measured yet' : formatRate(v));
  const pct = (done: number, total: number | null) => (total ? ` (${Math.min(100, Math.round((100 * done) / total))}%)` : '');
  return rows
    .map((r) => {
      const parts = [`${r.connection} ${r.table}: ${statusText(r)}`];
      if (!(r.status === 'aborted' && r.phase === 'aborted')) parts.push(`phase ${r.phase}`);
      const active = r.live || r.status === 'died';
      if (r.partition_of !== null && r.partition_number !== null && r.partitions_in_run !== null) {
        const left = r.partitions_in_run - r.partition_number;
        parts.push(`partition ${r.partition_number} of ${r.partitions_in_run} of ${r.partition_of}` +
          (active ? ` (${left} after it in this run)` : ''));
      }
      if (active && r.phase === 'copy') {
        if (r.rows_copied !== null) parts.push(`copied ${r.rows_copied} of ~${n(r.rows_estimate)} rows${pct(r.rows_copied, r.rows_estimate)}`);
        else if (r.copy_bytes) parts.push(`copy ${formatBytes(r.copy_bytes)} of ~${formatBytes(r.copy_bytes_expected ?? undefined)} written${pct(r.copy_bytes, r.copy_bytes_expected)}, ~${n(r.rows_estimate)} rows to copy`);
        else parts.push(`~${n(r.rows_estimate)} rows to copy, none written yet`);
      }
      if (active && r.phase === 'index' && r.indexes_total !== null) parts.push(`indexes built ${r.indexes_built ?? 0} of ${r.indexes_total}`);
      const workExists = active || r.status === 'prepared' || r.kept_chunked_copy;
      if (workExists && r.backlog !== null) parts.push(`backlog ${r.backlog_capped ? `over ${r.backlog}` : r.backlog}`);
      if (workExists && (r.phase === 'replay' || r.phase === 'swap' || r.status === 'prepared')) {
        parts.push(`changes ${rate(r.change_rate)}, replay ${rate(r.replay_rate)}`);
        if (r.predicted_swap_ms !== null) parts.push(`predicted swap ${Math.round(r.predicted_swap_ms)} ms`);
      }
      parts.push(`elapsed ${r.elapsed_s} s`);
      if (r.status === 'prepared' && !r.live && r.phase === 'prepared') parts.push(`last replayed ${r.phase_elapsed_s} s ago`);
      if (r.remaining_s !== null) parts.push(`about ${r.remaining_s} s left`);
      const throttled = r.throttle === null ? '' : `\n    throttled: ${r.throttle}`;
      const error = r.last_error && !(r.status === 'aborted' && r.phase === 'aborted') ? `\n    last error: ${r.last_error}` : '';
      return `${parts.join(', ')} [${r.runner}]${throttled}${error}`;
    })
    .join('\n');
}

/** How the last background run of each long command of this config ended (outcome-file.ts). */
export function renderBackgroundOutcomes(rt: Runtime): string[] {
  const lines: string[] = [];
  for (const command of ['repack_tables', 'prepare_repack']) {
    const o = readOutcome(rt.config.pidDir, command, rt.config.name);
    if (o === null) continue;
    lines.push(`last background ${command} of config ${o.config} (pid ${o.pid}): exit ${o.exitCode} at ${o.endedAt}`, ...o.lines.map((l) => `  ${l}`));
  }
  return lines;
}

/** The last background run of each long command of this config, for --json. */
export function backgroundOutcomes(rt: Runtime) {
  return ['repack_tables', 'prepare_repack']
    .map((command) => readOutcome(rt.config.pidDir, command, rt.config.name))
    .filter((o) => o !== null)
    .map((o) => ({ command: o.command, config: o.config, pid: o.pid, started_at: o.startedAt, ended_at: o.endedAt, exit_code: o.exitCode, lines: o.lines }));
}

export async function statusCommand(rt: Runtime, json: boolean): Promise<number> {
  const rows = await collectStatus(rt);
  const out = json
    ? JSON.stringify({ tables: rows, background_runs: backgroundOutcomes(rt) }, null, 2)
    : [renderStatus(rows), ...renderBackgroundOutcomes(rt)].join('\n');
  process.stdout.write(`${out}\n`);
  return ExitCode.ok;
}
