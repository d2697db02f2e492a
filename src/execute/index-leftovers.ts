/**
 * The leftovers of index rebuilds (repack_indexes): finding them from rpcl.index_runs, telling
 * a live rebuild from a dead one, and dropping them. Only what a row proves is rpcl's is ever
 * dropped: an INVALID `<name>_ccnew[N]` index on the row's table that was not among the
 * table's indexes when the rebuild started, or the rebuilt index itself renamed
 * `<name>_ccold[N]` by PostgreSQL's swap. An invalid index a user made is never touched.
 */
import type pg from 'pg';
import { ADVISORY_CLASS, advisoryObjectKey } from '../db/advisory.js';
import { displayQualified, quoteIdent, quoteQualified, type QualifiedName } from '../db/ident.js';
import { retryOnLock } from '../db/retry.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { dropIndexConcurrently, isRebuildName } from '../plan/reindex.js';
import { runStep } from './steps.js';

export interface IndexRunRow {
  id: number;
  tableOid: number;
  indexOid: number;
  schema: string;
  table: string;
  index: string;
  existing: number[];
  status: string;
}

export interface IndexLeftover extends QualifiedName {
  oid: number;
}

const runs = `${quoteIdent(HELPER_SCHEMA)}.index_runs`;

/** Whether the helper schema has the index_runs table (version 4 or later). */
async function hasIndexRuns(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [runs]);
  return rows[0]?.ok === true;
}

/** Rebuilds that may have left something: not yet checked clean (a done one may have left its _ccold). */
export async function openIndexRuns(client: pg.Client, tableOid?: number): Promise<IndexRunRow[]> {
  if (!(await hasIndexRuns(client))) return [];
  const { rows } = await client.query(
    `SELECT index_run_id::int8 AS id, table_oid::int8 AS table_oid, index_oid::int8 AS index_oid, schema_name, table_name,
            index_name, existing_index_oids::int8[] AS existing, status
     FROM ${runs} WHERE NOT leftovers_removed AND ($1::oid IS NULL OR table_oid = $1::oid)
     ORDER BY index_run_id`,
    [tableOid ?? null],
  );
  return rows.map((r) => ({
    id: Number(r.id), tableOid: Number(r.table_oid), indexOid: Number(r.index_oid), schema: r.schema_name,
    table: r.table_name, index: r.index_name, existing: (r.existing as string[]).map(Number), status: r.status,
  }));
}

/** The indexes on the row's table that are this rebuild's leftovers, by the rule above. */
export async function findIndexLeftovers(client: pg.Client, row: IndexRunRow): Promise<IndexLeftover[]> {
  const { rows } = await client.query<{ oid: string; nspname: string; relname: string; valid: boolean }>(
    `SELECT c.oid::int8 AS oid, n.nspname, c.relname, i.indisvalid AS valid
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE i.indrelid = $1::oid AND ((NOT i.indisvalid AND NOT c.oid = ANY($2::oid[])) OR c.oid = $3::oid)
     ORDER BY c.relname`,
    [row.tableOid, row.existing, row.indexOid],
  );
  return rows
    .filter((r) =>
      Number(r.oid) === row.indexOid ? isRebuildName(row.index, r.relname, 'ccold') : isRebuildName(row.index, r.relname, 'ccnew'),
    )
    .map((r) => ({ oid: Number(r.oid), schema: r.nspname, name: r.relname }));
}

export interface DropOptions {
  lockTimeoutMs: number;
  attempts: number;
  onRetry?: (what: string, attempt: number) => void;
}

/**
 * DROP INDEX CONCURRENTLY each leftover: SHARE UPDATE EXCLUSIVE on the table (the
 * application's reads and writes go on) and waits for the table's lockers, each wait bounded by
 * lock_timeout, retried with backoff. It cannot run in a transaction block, so lock_timeout is
 * set for the session and put back afterwards. Returns what was dropped; the row is marked
 * clean once nothing of it is left.
 */
export async function dropIndexLeftovers(client: pg.Client, row: IndexRunRow, opts: DropOptions): Promise<string[]> {
  const dropped: string[] = [];
  const table = { schema: row.schema, name: row.table };
  const before = await client.query<{ v: string }>(`SELECT current_setting('lock_timeout') AS v`);
  await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${Math.round(opts.lockTimeoutMs)}ms`]);
  try {
    for (const leftover of await findIndexLeftovers(client, row)) {
      await retryOnLock(
        { attempts: opts.attempts, baseDelayMs: 300, maxDelayMs: 5000, onRetry: (a) => opts.onRetry?.(displayQualified(leftover), a) },
        () => runStep(client, dropIndexConcurrently(leftover, table)),
      );
      dropped.push(`INVALID index ${displayQualified(leftover)}`);
    }
  } finally {
    await client.query(`SELECT set_config('lock_timeout', $1, false)`, [before.rows[0]?.v ?? '0']).catch(() => undefined);
  }
  if ((await findIndexLeftovers(client, row)).length === 0) {
    await client.query(`UPDATE ${runs} SET leftovers_removed = true WHERE index_run_id = $1`, [row.id]);
  }
  return dropped;
}

export interface IndexTrace {
  row: IndexRunRow;
  leftovers: IndexLeftover[];
}

/** Open rebuilds with something left, for the confirmation listings of abort_repack and drop_schema. */
export async function findIndexTraces(client: pg.Client): Promise<IndexTrace[]> {
  const out: IndexTrace[] = [];
  for (const row of await openIndexRuns(client)) {
    const leftovers = await findIndexLeftovers(client, row);
    if (leftovers.length > 0 || row.status === 'running') out.push({ row, leftovers });
  }
  return out;
}

export function describeIndexTrace(t: IndexTrace): string {
  const index = displayQualified({ schema: t.row.schema, name: t.row.index });
  if (t.leftovers.length === 0) return `the record of an unfinished rebuild of index ${index} (nothing of it is left in the table)`;
  return `the INVALID ${t.leftovers.map((l) => displayQualified(l)).join(', ')} left by an interrupted rebuild of index ${index} (unless a live run holds it)`;
}

export type IndexRecovery =
  | { outcome: 'live'; index: string; table: string }
  | { outcome: 'cleaned'; index: string; table: string; removed: string[] };

/**
 * Cleans every dead rebuild's leftovers. A rebuild is live while the session that runs it holds
 * its table's advisory lock (the REINDEX session takes it; it keeps it even when its rpcl was
 * killed, until the statement ends): those are left alone. Each dead one is cleaned under the
 * advisory lock, so no new run on the table starts meanwhile.
 */
export async function recoverIndexRuns(client: pg.Client, opts: DropOptions): Promise<IndexRecovery[]> {
  const result: IndexRecovery[] = [];
  for (const row of await openIndexRuns(client)) {
    const index = displayQualified({ schema: row.schema, name: row.index });
    const table = displayQualified({ schema: row.schema, name: row.table });
    const key = [ADVISORY_CLASS, advisoryObjectKey(row.tableOid)];
    const locked = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1::int, $2::int) AS ok`, key);
    if (!locked.rows[0]?.ok) {
      result.push({ outcome: 'live', index, table });
      continue;
    }
    try {
      const removed = await dropIndexLeftovers(client, row, opts);
      // rpcl may have died while the server went on and finished the statement: then the name
      // is carried by a new, valid index of the same table.
      const { rows } = await client.query<{ finished: boolean }>(
        `SELECT coalesce((SELECT i.indexrelid <> $2::oid AND i.indisvalid AND i.indrelid = $3::oid
                          FROM pg_index i WHERE i.indexrelid = to_regclass($1)), false) AS finished`,
        [quoteQualified({ schema: row.schema, name: row.index }), row.indexOid, row.tableOid],
      );
      const finished = rows[0]?.finished === true;
      await client.query(
        `UPDATE ${runs} SET status = $2, ended_at = coalesce(ended_at, clock_timestamp()),
           size_after = CASE WHEN $2 = 'done' THEN pg_relation_size(to_regclass($4)) END,
           last_error = coalesce(last_error, $3)
         WHERE index_run_id = $1 AND status = 'running'`,
        [
          row.id, finished ? 'done' : 'failed',
          finished ? 'rpcl died, but the server finished the rebuild' : 'the run died; its leftovers were removed by a later command',
          quoteQualified({ schema: row.schema, name: row.index }),
        ],
      );
      result.push({ outcome: 'cleaned', index, table, removed });
    } finally {
      await client.query(`SELECT pg_advisory_unlock($1::int, $2::int)`, key);
    }
  }
  return result;
}

export function describeIndexRecovery(r: IndexRecovery): string {
  if (r.outcome === 'live') {
    return `a live rpcl rebuild of index ${r.index} is running: left alone. Stop it first (rpcl stop_repack), then run this again`;
  }
  return `cleaned up an interrupted rebuild of index ${r.index} on ${r.table}: removed ${r.removed.join(', ') || 'nothing (nothing was left)'}`;
}
