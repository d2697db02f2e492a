/**
 * Finds the work of rpcl runs in a database and tells a dead run from a live one: a live run
 * holds its table's advisory lock (from any host), a dead one's lock went with its session.
 * Dead runs are cleaned (before the swap) or completed (after it: only the old table and the
 * work objects are left), each under the advisory lock so that no new run can start meanwhile.
 */
import type pg from 'pg';
import { ADVISORY_CLASS, advisoryObjectKey } from '../db/advisory.js';
import { quoteIdent } from '../db/ident.js';
import { retryOnLock } from '../db/retry.js';
import { inTransaction, setLocalTimeouts } from '../db/session.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { validateForeignKey } from '../plan/swap.js';
import { runStep } from './steps.js';
import { removeWorkObjects, type CleanupOptions } from './cleanup.js';

export interface RunTrace {
  oid: number;
  /**
   * Its work was kept on purpose: the latest run was left prepared (prepare_repack), or it is
   * a chunked copy that the next repack_tables continues.
   */
  prepared: boolean;
  /** A chunked copy's progress table is among its work objects. */
  chunked: boolean;
  /** `schema.table` while the original table still exists under that OID. */
  table: string | null;
  /** The swap committed: only the old table and work objects remain. */
  swapped: boolean;
}

/** Every table OID some rpcl work object is named after, with what is known of it. */
export async function findRunTraces(client: pg.Client): Promise<RunTrace[]> {
  const { rows } = await client.query<{ oid: string; swapped: boolean; chunked: boolean; prepared: boolean; tbl: string | null }>(
    `WITH names AS (
       SELECT substring(c.relname FROM '^(?:log|copy|progress|rpcl_old)_([0-9]+)$') AS oid, c.relname LIKE 'rpcl\\_old\\_%' AS swapped,
              c.relname LIKE 'progress\\_%' AS chunked
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind = 'r'
       UNION ALL
       SELECT substring(p.proname FROM '^capture_([0-9]+)$'), false, false
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
       UNION ALL
       SELECT substring(t.tgname FROM '^rpcl_capture_([0-9]+)(?:_truncate)?$'), false, false
       FROM pg_trigger t WHERE NOT t.tgisinternal
       UNION ALL
       -- a partition's run: its CHECK constraint on the default partition beside it
       SELECT substring(con.conname FROM '^rpcl_excl_([0-9]+)$'), false, false
       FROM pg_constraint con WHERE con.contype = 'c'
     )
     SELECT names.oid, bool_or(names.swapped) AS swapped, bool_or(names.chunked) AS chunked,
            bool_or(names.chunked) OR coalesce((SELECT r.status = 'prepared' FROM ${quoteIdent(HELPER_SCHEMA)}.runs r
                      WHERE r.table_oid = names.oid::oid ORDER BY r.run_id DESC LIMIT 1), false) AS prepared,
            coalesce((SELECT quote_ident(ns.nspname) || '.' || quote_ident(c.relname)
                      FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
                      WHERE c.oid = names.oid::oid AND ns.nspname <> $1),
                     -- After a swap the OID is the old table's: the name its run recorded.
                     (SELECT quote_ident(r.schema_name) || '.' || quote_ident(r.table_name) FROM ${quoteIdent(HELPER_SCHEMA)}.runs r
                      WHERE r.table_oid = names.oid::oid ORDER BY r.run_id DESC LIMIT 1)) AS tbl
     FROM names WHERE names.oid IS NOT NULL GROUP BY names.oid ORDER BY names.oid::int8`,
    [HELPER_SCHEMA],
  );
  // After a committed swap nothing is kept: the old table and the work objects are leftovers.
  return rows.map((r) => ({ oid: Number(r.oid), table: r.tbl, swapped: r.swapped, prepared: r.prepared && !r.swapped, chunked: r.chunked }));
}

/** One line for a listing of what would be removed. */
export function describeTrace(t: RunTrace): string {
  const table = t.table ?? `table OID ${t.oid} (dropped)`;
  if (t.swapped) return `the old table and work objects of a finished swap of ${table}`;
  if (t.prepared) return `the ${t.chunked ? 'kept chunked' : 'prepared'} copy of ${table}, its change log and capture trigger`;
  return `the half-done copy of ${table}, its change log and capture trigger (unless a live run holds it)`;
}

export type Recovery =
  | { oid: number; outcome: 'live'; table: string | null }
  | { oid: number; outcome: 'cleaned' | 'completed' | 'aborted'; removed: string[]; table: string | null; chunked: boolean };

/**
 * Cleans or completes every dead run; leaves live runs alone, and prepared ones unless
 * `includePrepared` (abort_repack removes them too).
 */
export async function recoverDeadRuns(
  client: pg.Client,
  opts: CleanupOptions & { includePrepared: boolean },
): Promise<Recovery[]> {
  const result: Recovery[] = [];
  for (const trace of await findRunTraces(client)) {
    if (trace.prepared && !opts.includePrepared) continue;
    const key = [ADVISORY_CLASS, advisoryObjectKey(trace.oid)];
    const locked = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1::int, $2::int) AS ok`, key);
    if (!locked.rows[0]?.ok) {
      result.push({ oid: trace.oid, outcome: 'live', table: trace.table });
      continue;
    }
    try {
      const removed = await removeWorkObjects(client, trace.oid, opts);
      const outcome = trace.swapped ? 'completed' : trace.prepared ? 'aborted' : 'cleaned';
      if (trace.swapped) removed.push(...(await validatePending(client, trace.oid, opts)));
      // Kept work removed on request is no death: say what happened, not that the run died.
      const why =
        outcome === 'completed' ? 'the run died after its swap; its cleanup was finished by a later command' :
        outcome === 'aborted' ? 'its kept copy was removed by abort_repack (or drop_schema); the table is as it was' :
        'the run died; its work was removed by a later command';
      await client.query(
        `UPDATE ${quoteIdent(HELPER_SCHEMA)}.runs SET status = $2, phase = $3, ended_at = clock_timestamp(),
           last_error = CASE WHEN status = 'running' THEN coalesce(last_error, $4) ELSE $4 END
         WHERE run_id = (SELECT max(run_id) FROM ${quoteIdent(HELPER_SCHEMA)}.runs WHERE table_oid = $1::oid)
           AND status IN ('running', 'prepared', 'stopped')`,
        [trace.oid, outcome === 'completed' ? 'done' : 'aborted', outcome === 'completed' ? 'done' : outcome === 'aborted' ? 'aborted' : 'failed', why],
      );
      result.push({ oid: trace.oid, outcome, removed, table: trace.table, chunked: trace.chunked });
    } finally {
      await client.query(`SELECT pg_advisory_unlock($1::int, $2::int)`, key);
    }
  }
  return result;
}

/**
 * Validates the foreign keys a swap re-created NOT VALID, as recorded in its run's row. Only
 * those: constraints that were NOT VALID before the run stay so.
 */
export async function validatePending(client: pg.Client, oid: number, opts: CleanupOptions): Promise<string[]> {
  const { rows } = await client.query<{ run_id: string; pending: string[] }>(
    `SELECT run_id, pending_validations AS pending FROM ${quoteIdent(HELPER_SCHEMA)}.runs
     WHERE table_oid = $1::oid AND cardinality(pending_validations) > 0`,
    [oid],
  );
  const done: string[] = [];
  for (const row of rows) {
    for (const item of row.pending) {
      const [table, constraint] = JSON.parse(item) as [string, string];
      await retryOnLock({ attempts: opts.attempts, baseDelayMs: 200, maxDelayMs: 3000 }, () =>
        inTransaction(client, async () => {
          await setLocalTimeouts(client, { lockTimeoutMs: opts.lockTimeoutMs });
          await runStep(client, validateForeignKey(table, constraint));
        }),
      );
      done.push(`validated foreign key ${constraint}`);
    }
    await client.query(`UPDATE ${quoteIdent(HELPER_SCHEMA)}.runs SET pending_validations = '{}' WHERE run_id = $1`, [row.run_id]);
  }
  return done;
}

export function describeRecovery(r: Recovery): string {
  if (r.outcome === 'live') {
    return `a live rpcl run is working on ${r.table ?? `table OID ${r.oid}`}: left alone. Stop it first (rpcl stop_repack, stop_prepare or stop_replay ` +
      'with the config that started it; `rpcl status` shows which), then run abort_repack again';
  }
  const what =
    r.outcome === 'completed' ? `completed a run that died after its swap on ${r.table ?? `table OID ${r.oid}`}` :
    r.outcome === 'aborted' ? `aborted the ${r.chunked ? 'kept chunked' : 'prepared'} copy of ${r.table ?? `table OID ${r.oid}`}; the table is as it was` :
    `cleaned up a run that died before its swap on ${r.table ?? `table OID ${r.oid}`}; the table is as it was`;
  return `${what}: removed ${r.removed.join(', ') || 'nothing'}`;
}

