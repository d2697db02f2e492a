/**
 * The swap: one transaction under lock_timeout and statement_timeout. It takes ACCESS
 * EXCLUSIVE on the table (and the locks foreign keys need on the tables around it), checks the
 * table did not change shape, replays the last changes (invariant 6: only under the lock is
 * the catch-up final), re-points what referred to the old table and renames. A failed lock
 * rolls everything back: the original table is untouched and the application's queued queries
 * go on at once.
 */
import type pg from 'pg';
import { quoteIdent, quoteQualified } from '../db/ident.js';
import { isLockFailure } from '../db/retry.js';
import { setLocalTimeouts } from '../db/session.js';
import { helperName } from '../plan/capture.js';
import { HELPER_SCHEMA, workNames } from '../plan/names.js';
import { swapSteps, type LiveForeignKey, type LiveIdentity, type LiveView } from '../plan/swap.js';
import { watchBlockers, type Blocker } from './blockers.js';
import type { TableRun } from './context.js';
import { applyBatch, assertDefinitionUnchanged } from './replay.js';
import { runSteps } from './steps.js';
import { testPause } from './test-hooks.js';

export type SwapAttempt =
  | { ok: true; holdMs: number; foreignKeys: LiveForeignKey[]; replayedRows: number }
  | { ok: false; blockers: Blocker[]; message: string };

export function swapStatementTimeoutMs(lockTimeoutMs: number): number {
  return Math.max(2 * lockTimeoutMs, 5000);
}

export async function attemptSwap(run: TableRun): Promise<SwapAttempt> {
  const { work, facts } = run;
  const lockTimeoutMs = run.conn.lockTimeoutMs;
  const monitor = watchBlockers(run.control, run.workPid, Math.max(20, Math.min(200, lockTimeoutMs / 5)));
  let monitoring = true;
  let blockers: Blocker[] = [];
  const stopMonitor = async () => {
    if (monitoring) {
      monitoring = false;
      blockers = await monitor.stop();
    }
  };
  await work.query('BEGIN');
  try {
    await setLocalTimeouts(work, { lockTimeoutMs, statementTimeoutMs: swapStatementTimeoutMs(lockTimeoutMs) });
    await work.query(`SELECT set_config('search_path', 'pg_catalog, pg_temp', true)`);
    await lockTables(run);
    const lockedAt = performance.now();
    // Not awaited: the monitor may be mid-query on the control session, and the lock is held.
    const monitorStopped = stopMonitor();
    run.log.debug('swap lock granted', run.ref);
    await testPause('swap-locked');
    const mark = timer();
    await assertDefinitionUnchanged(work, run);
    const checked = mark();
    const batch = await applyBatch(work, run);
    const replayed = mark();
    const foreignKeys = await liveForeignKeys(work, facts.oid);
    const views = await liveViews(work, facts.oid);
    const identities = await liveIdentities(work, facts.oid);
    await runSteps(work, swapSteps({ facts, foreignKeys, views, identities }));
    await work.query(`UPDATE ${quoteIdent(HELPER_SCHEMA)}.runs SET pending_validations = $2 WHERE run_id = $1`, [
      run.runId,
      foreignKeys.filter((f) => f.validated).map((f) => JSON.stringify([quoteQualified(f.table), f.name])),
    ]);
    const renamed = mark();
    await work.query('COMMIT');
    const holdMs = performance.now() - lockedAt;
    await monitorStopped;
    run.log.debug(
      `swap under lock: check ${checked.toFixed(1)} ms, final catch-up of ${batch.logRows} log rows ${replayed.toFixed(1)} ms, ` +
        `re-pointing and renames ${renamed.toFixed(1)} ms, commit ${mark().toFixed(1)} ms`,
      run.ref,
    );
    return { ok: true, holdMs, foreignKeys, replayedRows: batch.logRows };
  } catch (err) {
    await work.query('ROLLBACK').catch(() => undefined);
    await stopMonitor();
    if (isLockFailure(err)) return { ok: false, blockers, message: (err as Error).message };
    throw err;
  }
}

/**
 * The table first (its ACCESS EXCLUSIVE is what stops the writers), then tables whose foreign
 * keys point at it (ACCESS EXCLUSIVE: their constraint is dropped and re-added), then tables it
 * points at (SHARE ROW EXCLUSIVE: adding a foreign key creates triggers there), in OID order.
 */
async function lockTables(run: TableRun): Promise<void> {
  const { work, facts } = run;
  await work.query(`LOCK TABLE ${run.table} IN ACCESS EXCLUSIVE MODE`);
  const children = unique(facts.incomingForeignKeys.filter((f) => f.table.oid !== facts.oid).map((f) => f.table));
  for (const t of children) await work.query(`LOCK TABLE ${quoteQualified(t)} IN ACCESS EXCLUSIVE MODE`);
  const parents = await work.query<{ schema: string; name: string; oid: string }>(
    `SELECT DISTINCT n.nspname AS schema, c.relname AS name, c.oid::int8 AS oid
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE con.contype = 'f' AND con.conrelid = $1::oid AND con.confrelid <> $1::oid ORDER BY 3`,
    [facts.oid],
  );
  const childOids = new Set(children.map((c) => c.oid));
  for (const p of parents.rows) {
    if (childOids.has(Number(p.oid))) continue;
    await work.query(`LOCK TABLE ${quoteQualified(p)} IN SHARE ROW EXCLUSIVE MODE`);
  }
}

/** Milliseconds since the previous call. */
function timer(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const d = now - last;
    last = now;
    return d;
  };
}

function unique<T extends { oid: number }>(items: T[]): T[] {
  const byOid = new Map<number, T>();
  for (const i of items) byOid.set(i.oid, i);
  return [...byOid.values()].sort((a, b) => a.oid - b.oid);
}

async function liveForeignKeys(client: pg.Client, oid: number): Promise<LiveForeignKey[]> {
  const { rows } = await client.query(
    `SELECT con.conname, n.nspname, c.relname, pg_get_constraintdef(con.oid) AS def, con.convalidated,
            obj_description(con.oid, 'pg_constraint') AS comment, con.conrelid = $1::oid AS on_table
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE con.contype = 'f' AND (con.conrelid = $1::oid OR con.confrelid = $1::oid)
     ORDER BY con.conrelid = $1::oid DESC, n.nspname, c.relname, con.conname`,
    [oid],
  );
  return rows.map((r) => ({
    name: r.conname,
    table: { schema: r.nspname, name: r.relname },
    definition: r.def,
    validated: r.convalidated,
    comment: r.comment,
    onRepackedTable: r.on_table,
  }));
}

async function liveViews(client: pg.Client, oid: number): Promise<LiveView[]> {
  const { rows } = await client.query(
    `SELECT DISTINCT v.oid, n.nspname, v.relname, pg_get_viewdef(v.oid) AS def, coalesce(v.reloptions, '{}') AS options
     FROM pg_depend d
     JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
     JOIN pg_class v ON v.oid = r.ev_class
     JOIN pg_namespace n ON n.oid = v.relnamespace
     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid AND v.oid <> $1::oid AND v.relkind = 'v'
     ORDER BY v.oid`,
    [oid],
  );
  return rows.map((r) => ({ view: { schema: r.nspname, name: r.relname }, definition: r.def, options: r.options }));
}

async function liveIdentities(client: pg.Client, oid: number): Promise<LiveIdentity[]> {
  const seqOf = `SELECT a.attname, n.nspname, s.relname
     FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
     JOIN pg_namespace n ON n.oid = s.relnamespace
     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i'
       AND d.refobjid = $1::regclass`;
  const original = await client.query(seqOf, [oid]);
  const copy = await client.query(seqOf, [helperName(workNames.copyTable(oid))]);
  const result: LiveIdentity[] = [];
  for (const o of original.rows) {
    const c = copy.rows.find((x) => x.attname === o.attname);
    if (c === undefined || c.nspname !== HELPER_SCHEMA) throw new Error(`identity column ${o.attname}: the copy has no identity sequence`);
    const seq = quoteQualified({ schema: o.nspname, name: o.relname });
    const state = await client.query(`SELECT last_value::text AS v, is_called FROM ${seq}`);
    result.push({
      column: o.attname,
      copySequence: c.relname,
      originalSequence: { schema: o.nspname, name: o.relname },
      lastValue: state.rows[0].v,
      isCalled: state.rows[0].is_called,
    });
  }
  return result;
}
