/**
 * One index's online rebuild (repack_indexes): REINDEX INDEX CONCURRENTLY, each attempt bounded
 * by lock_timeout (see plan/reindex.ts for what it locks and waits for), retried with backoff
 * up to swap_attempts times; after every failed attempt its INVALID leftovers are dropped
 * before anything else happens. The rebuild is recorded in rpcl.index_runs before it starts,
 * so that leftovers of a run that died are found and removed later, and only those.
 *
 * Sessions: the work session holds the table's advisory lock (the one repack_tables takes, so
 * the two commands exclude each other on a table) and runs the REINDEX. Holding the lock in
 * that very session matters: when rpcl is killed the server goes on with the statement, and
 * the lock tells any later command that the rebuild is still live. The control session records
 * progress, watches who blocks the work session, and cancels it on a stop request.
 */
import { hostname } from 'node:os';
import type pg from 'pg';
import type { ConnectionConfig } from '../config/types.js';
import { ADVISORY_CLASS, advisoryObjectKey } from '../db/advisory.js';
import { connect } from '../db/connect.js';
import { displayQualified, quoteIdent, quoteQualified } from '../db/ident.js';
import { backoffDelay, isLockFailure } from '../db/retry.js';
import { serializeQueries, sleep } from '../db/session.js';
import { SqlState, isConnectionLoss, isSqlState } from '../db/sqlstate.js';
import { indexFacts, type IndexFacts } from '../inspect/indexes.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { displayIndex, indexRefusal, reindexConcurrently } from '../plan/reindex.js';
import type { Emit, TableOutcome, TableRef } from '../report/events.js';
import type { Logger } from '../report/logger.js';
import { blockersHolding, describeBlocker, resolveBlockers, watchBlockers, type Blocker } from './blockers.js';
import { dropIndexLeftovers, findIndexLeftovers, openIndexRuns, type IndexRunRow } from './index-leftovers.js';
import { runStep } from './steps.js';
import { testPause } from './test-hooks.js';

export interface RebuildOptions {
  conn: ConnectionConfig;
  home: string;
  configName: string;
  log: Logger;
  emit: Emit;
  stopRequested: () => boolean;
}

const runs = `${quoteIdent(HELPER_SCHEMA)}.index_runs`;

export async function rebuildIndex(opts: RebuildOptions, index: IndexFacts, listed: boolean): Promise<TableOutcome> {
  const started = Date.now();
  const table = displayQualified({ schema: index.tableSchema, name: index.tableName });
  const ref: TableRef = { connection: opts.conn.name, table, oid: index.tableOid };
  const name = displayIndex(index);
  const outcome = (status: TableOutcome['status'], extra: Partial<TableOutcome> = {}): TableOutcome => ({
    status, table, index: name, connection: opts.conn.name, listed, durationMs: Date.now() - started, ...extra,
  });
  const control = serializeQueries(await connect(opts.conn, { home: opts.home, applicationName: 'rpcl control' }));
  let work: pg.Client | null = null;
  const key = [ADVISORY_CLASS, advisoryObjectKey(index.tableOid)];
  let workAlive = true;
  try {
    work = await connect(opts.conn, { home: opts.home, applicationName: 'rpcl reindex' });
    work.on('error', () => {
      workAlive = false;
    });
    const locked = await work.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1::int, $2::int) AS ok`, key);
    if (!locked.rows[0]?.ok) {
      return outcome('refused', { reason: 'another rpcl run is working on this table: wait for it or stop it' });
    }
    // Under the lock, any open rebuild of this table is dead: its leftovers go first.
    for (const row of await openIndexRuns(work, index.tableOid)) {
      try {
        const removed = await dropIndexLeftovers(work, row, dropOptions(opts, ref));
        if (removed.length > 0) opts.emit({ type: 'warning', ref, message: `removed leftovers of a rebuild that died: ${removed.join(', ')}` });
      } catch (err) {
        if (!isLockFailure(err)) throw err;
        return outcome('failed', {
          reason: `the leftovers of an earlier rebuild on this table could not be dropped within lock_timeout (${(err as Error).message}): ` +
            'run repack_indexes or abort_repack again when the long transactions have ended',
        });
      }
      await markDead(work, row);
    }
    const facts = await indexFacts(work, index.oid, HELPER_SCHEMA);
    if (facts === null) return outcome('refused', { reason: 'the index no longer exists' });
    const refusal = indexRefusal(facts);
    if (refusal !== null) return outcome('refused', { reason: refusal });

    const workPid = (await work.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows[0]!.pid;
    const row = await recordRebuild(control, facts, workPid, opts);
    // A note: on the terminal's progress too, not only in the log.
    opts.emit({ type: 'note', ref, message: `${table}: rebuilding index ${name} (${formatSize(facts.bytes)}) with REINDEX INDEX CONCURRENTLY` });
    const attempts = opts.conn.swapAttempts;
    let lastBlockers: Blocker[] = [];
    for (let attempt = 1; ; attempt++) {
      if (opts.stopRequested()) return await finish('stopped', 'stopped on request before the rebuild was done');
      await testPause('reindex', opts.stopRequested);
      const monitor = watchBlockers(control, workPid, 200);
      // A stop request cancels the statement: the leftovers are then removed like any failure's.
      const stopWatch = setInterval(() => {
        if (opts.stopRequested()) {
          // Only while the REINDEX itself runs: a cancel that arrives later must not hit the cleanup.
          control.query(
            `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1::int AND state = 'active' AND query ILIKE 'REINDEX%'`,
            [workPid],
          ).catch(() => undefined);
          clearInterval(stopWatch);
        }
      }, 200);
      let error: unknown = null;
      try {
        await control.query(`UPDATE ${runs} SET attempts = $2 WHERE index_run_id = $1`, [row.id, attempt]);
        // Session-level: REINDEX CONCURRENTLY cannot run in a transaction block, so no SET LOCAL.
        await work.query(`SELECT set_config('lock_timeout', $1, false), set_config('statement_timeout', '0', false)`, [
          `${opts.conn.lockTimeoutMs}ms`,
        ]);
        await runStep(work, reindexConcurrently(facts));
      } catch (err) {
        error = err;
      } finally {
        clearInterval(stopWatch);
      }
      const blockers = await monitor.stop();
      if (error === null) return await done(undefined);
      if (!workAlive || isConnectionLoss(error)) {
        workAlive = false;
        return await finish('failed', `the rebuild's session was lost: ${(error as Error).message}`);
      }
      // Past the swap step (4 in plan/reindex.ts) the new index already carries the name and is
      // valid: the rebuild is done, and what failed was the wait to drop the old one (a session
      // still using the table). Only that `_ccold` is left to remove; no second rebuild.
      const swapped = (await findIndexLeftovers(work, row)).some((l) => l.oid === row.indexOid);
      const cleanup = await removeLeftovers(row);
      if (swapped) {
        const pending = (await findIndexLeftovers(work, row)).length > 0;
        if (pending) {
          opts.emit({ type: 'warning', ref, message: `index ${name} is rebuilt, but its old copy could not be dropped yet${cleanup}` });
        }
        return await done(pending ? `rebuilt; the old copy of the index is still there${cleanup}` : undefined);
      }
      if (opts.stopRequested() || isSqlState(error, SqlState.queryCanceled)) {
        return await finish(opts.stopRequested() ? 'stopped' : 'failed', `${opts.stopRequested() ? 'stopped on request' : (error as Error).message}${cleanup}`);
      }
      if (!isLockFailure(error)) return await finish('failed', `${(error as Error).message}${cleanup}`);
      lastBlockers = blockers.length > 0 ? blockers : lastBlockers;
      const who = blockers.length > 0 ? `; waited for ${blockers.map(describeBlocker).join('; ')}` : '';
      // A leftover that could not be dropped (its DROP waits for the same sessions) ends the
      // retries: each further attempt would leave one more INVALID index that every write maintains.
      const left = await findIndexLeftovers(work, row);
      if (left.length > 0) {
        return await finish(
          'failed',
          `${(error as Error).message}${who}${cleanup}; ${left.map((l) => displayQualified(l)).join(', ')} could not be dropped yet, ` +
            'so no further attempt is made: run rpcl abort_repack once those sessions have ended',
        );
      }
      if (attempt >= attempts) break;
      // deadlock_resolution acts only on sessions that hold a lock on the table or the index
      // now: not on those a wait for older snapshots met elsewhere in the database (a backup,
      // another rpcl run), nor on pids seen earlier in a long build that may be others by now.
      const holders = await blockersHolding(control, blockers, [facts.tableOid, facts.oid]);
      for (const line of await resolveBlockers(control, holders, opts.conn.deadlockResolution)) {
        opts.emit({ type: 'warning', ref, message: `deadlock_resolution ${opts.conn.deadlockResolution}: ${line}` });
      }
      opts.emit({
        type: 'warning', ref,
        message: `rebuild of ${name}, attempt ${attempt}/${attempts}: a lock or an older transaction was not released within lock_timeout (${opts.conn.lockTimeoutMs} ms)${who}${cleanup}; retrying`,
      });
      await sleep(backoffDelay(attempt, { baseDelayMs: 500, maxDelayMs: 10_000 }));
    }
    // Only the last attempt's lock failure leaves the loop without returning.
    const who = lastBlockers.length > 0 ? `: blocked by ${lastBlockers.map(describeBlocker).join('; ')}` : '';
    return await finish(
      'failed',
      `the rebuild did not get its locks, or older transactions did not end, within lock_timeout (${opts.conn.lockTimeoutMs} ms) ` +
        `in ${attempts} attempts${who}. End those sessions (long transactions hold REINDEX CONCURRENTLY too), then run repack_indexes again; ` +
        'nothing was left behind',
    );

    /** The new index is in place; `note` says what is left (then the row stays open for a later cleanup). */
    async function done(note: string | undefined): Promise<TableOutcome> {
      const after = await control.query<{ bytes: string | null }>(`SELECT pg_relation_size(to_regclass($1))::int8 AS bytes`, [
        quoteQualified({ schema: facts!.schema, name: facts!.name }),
      ]);
      const sizeAfter = Number(after.rows[0]?.bytes ?? 0);
      await control.query(
        `UPDATE ${runs} SET status = 'done', leftovers_removed = $3, size_after = $2, last_error = $4, ended_at = clock_timestamp()
         WHERE index_run_id = $1`,
        [row.id, sizeAfter, note === undefined, note ?? null],
      );
      return outcome('done', { sizeBefore: facts!.bytes, sizeAfter, ...(note === undefined ? {} : { reason: note }) });
    }

    async function finish(status: 'failed' | 'stopped', reason: string): Promise<TableOutcome> {
      await control.query(
        `UPDATE ${runs} SET status = $2, last_error = $3, ended_at = clock_timestamp() WHERE index_run_id = $1`,
        [row.id, status, reason],
      ).catch(() => undefined);
      // A lost work session took the advisory lock along: clean under the control session's.
      if (!workAlive) reason += await removeLeftoversAfterLoss(row);
      return outcome(status, { reason, sizeBefore: facts!.bytes });
    }

    async function removeLeftovers(r: IndexRunRow): Promise<string> {
      try {
        const removed = await dropIndexLeftovers(work!, r, dropOptions(opts, ref));
        return removed.length > 0 ? `; removed ${removed.join(', ')}` : '';
      } catch (err) {
        const left = await findIndexLeftovers(control, r).catch(() => []);
        opts.log.error(`could not remove the leftovers of the rebuild of ${name}: ${(err as Error).message}`, { connection: ref.connection, table: ref.table });
        return `; could not remove ${left.map((l) => displayQualified(l)).join(', ') || 'its leftovers'} (${(err as Error).message}): run rpcl abort_repack to finish`;
      }
    }

    async function removeLeftoversAfterLoss(r: IndexRunRow): Promise<string> {
      const got = await control.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1::int, $2::int) AS ok`, key).catch(() => null);
      if (!got?.rows[0]?.ok) return '; its leftovers are removed by the next repack_indexes or abort_repack';
      try {
        const removed = await dropIndexLeftovers(control, r, dropOptions(opts, ref));
        return removed.length > 0 ? `; removed ${removed.join(', ')}` : '';
      } catch (err) {
        return `; could not remove its leftovers (${(err as Error).message}): run rpcl abort_repack to finish`;
      } finally {
        await control.query(`SELECT pg_advisory_unlock($1::int, $2::int)`, key).catch(() => undefined);
      }
    }
  } finally {
    if (work !== null && workAlive) await work.query(`SELECT pg_advisory_unlock($1::int, $2::int)`, key).catch(() => undefined);
    await work?.end().catch(() => undefined);
    await control.end().catch(() => undefined);
  }
}

function dropOptions(opts: RebuildOptions, ref: TableRef) {
  return {
    lockTimeoutMs: opts.conn.lockTimeoutMs,
    attempts: opts.conn.swapAttempts,
    onRetry: (what: string, attempt: number) =>
      opts.emit({ type: 'warning', ref, message: `drop ${what}: lock not granted within ${opts.conn.lockTimeoutMs} ms (attempt ${attempt}), retrying` }),
  };
}

async function recordRebuild(control: pg.Client, f: IndexFacts, workPid: number, opts: RebuildOptions): Promise<IndexRunRow> {
  // Written and committed before the REINDEX starts: whatever happens to rpcl after this, the
  // row says which indexes existed, so the rebuild's own leftovers can be told apart.
  const { rows } = await control.query<{ id: string; existing: string[] }>(
    `INSERT INTO ${runs} (table_oid, index_oid, schema_name, table_name, index_name, existing_index_oids, config_name,
                          connection_name, size_before, runner_pid, runner_host, runner_backend_pid)
     SELECT $1::oid, $2::oid, $3, $4, $5, array_agg(i.indexrelid ORDER BY i.indexrelid), $6, $7, $8, $9, $10, $11
     FROM pg_index i WHERE i.indrelid = $1::oid
     RETURNING index_run_id::int8 AS id, existing_index_oids::int8[] AS existing`,
    [f.tableOid, f.oid, f.schema, f.tableName, f.name, opts.configName, opts.conn.name, f.bytes, process.pid, hostname(), workPid],
  );
  const r = rows[0]!;
  return {
    id: Number(r.id), tableOid: f.tableOid, indexOid: f.oid, schema: f.schema, table: f.tableName, index: f.name,
    existing: r.existing.map(Number), status: 'running',
  };
}

async function markDead(client: pg.Client, row: IndexRunRow): Promise<void> {
  await client.query(
    `UPDATE ${runs} SET status = 'failed', ended_at = coalesce(ended_at, clock_timestamp()),
       last_error = coalesce(last_error, 'the run died; its leftovers were removed by the next repack_indexes')
     WHERE index_run_id = $1 AND status = 'running'`,
    [row.id],
  );
}

function formatSize(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
