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
import {
  liveForeignKeys, liveIdentities, livePolicies, livePublications, liveMatviews, liveRules, liveStatistics, liveTriggers, liveViews,
} from '../inspect/live.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { tableRef } from '../plan/capture.js';
import { readAcl } from '../inspect/acl.js';
import { swapSteps, type LiveForeignKey } from '../plan/swap.js';
import { ATTACH_SCANS } from '../plan/partition.js';
import { swapLocks, type LockOrder } from '../plan/swap-locks.js';
import { isSqlState, SqlState } from '../db/sqlstate.js';
import { watchBlockers, type Blocker } from './blockers.js';
import type { TableRun } from './context.js';
import { applyBatch, assertDefinitionUnchanged } from './replay.js';
import { runStep, runSteps } from './steps.js';
import { testPause } from './test-hooks.js';

export type SwapAttempt =
  | { ok: true; holdMs: number; foreignKeys: LiveForeignKey[]; replayedRows: number }
  /**
   * quick: the attempt gave up within milliseconds (a lock that was not free at once, or a
   * blocker caught waiting for the swap), so the application barely waited and another try
   * can follow at once instead of after a backoff.
   */
  | { ok: false; blockers: Blocker[]; message: string; quick: boolean };

export function swapStatementTimeoutMs(lockTimeoutMs: number): number {
  return Math.max(2 * lockTimeoutMs, 5000);
}

/** `order`: see LockOrder; the caller alternates it from one try to the next. */
export async function attemptSwap(run: TableRun, order: LockOrder): Promise<SwapAttempt> {
  const { work, facts } = run;
  const lockTimeoutMs = run.conn.lockTimeoutMs;
  const monitor = watchBlockers(run.control, run.workPid, Math.max(20, Math.min(50, lockTimeoutMs / 5)), true);
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
    const { firstGrantAt, tableGrantAt: lockedAt } = await lockTables(run, order);
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
    const said: string[] = [];
    const listen = (msg: { message?: string }) => said.push(msg.message ?? '');
    work.on('notice', listen);
    await runSteps(work, swapSteps({
      facts, foreignKeys, views, identities,
      acl: await readAcl(work, facts.oid),
      triggers: await liveTriggers(work, facts.oid),
      rules: await liveRules(work, facts.oid),
      policies: await livePolicies(work, facts.oid),
      publications: await livePublications(work, facts.oid, run.serverVersion),
      matviews: await liveMatviews(work, facts.oid),
      statistics: await liveStatistics(work, facts.oid),
      options: run.options,
    })).finally(() => work.off('notice', listen));
    reportServerMessages(run, said);
    // rpcl's own state row: its only other writer is the control session, whose short updates
    // never wait for the table, so this one may wait for them.
    await setLocalTimeouts(work, { lockTimeoutMs: run.conn.lockTimeoutMs });
    await work.query(`UPDATE ${quoteIdent(HELPER_SCHEMA)}.runs SET pending_validations = $2 WHERE run_id = $1`, [
      run.runId,
      foreignKeys.filter((f) => f.validated).map((f) => JSON.stringify([quoteQualified(f.table), f.name])),
    ]);
    const renamed = mark();
    await work.query('COMMIT');
    const committedAt = performance.now();
    await monitorStopped;
    run.log.info(
      `swap under lock (${order}): table locked ${(lockedAt - firstGrantAt).toFixed(1)} ms after the first lock, ` +
        `check ${checked.toFixed(1)} ms, final catch-up of ${batch.logRows} log rows ${replayed.toFixed(1)} ms, ` +
        `re-pointing and renames ${renamed.toFixed(1)} ms, commit ${mark().toFixed(1)} ms`,
      run.ref,
    );
    // What the application feels: from the first lock granted (views and foreign-key partners
    // are locked before the table) to the commit.
    return { ok: true, holdMs: committedAt - firstGrantAt, foreignKeys, replayedRows: batch.logRows };
  } catch (err) {
    await work.query('ROLLBACK').catch(() => undefined);
    await stopMonitor();
    const cycle = monitor.cycle();
    if (cycle !== null && isSqlState(err, SqlState.queryCanceled)) {
      return {
        ok: false, blockers, quick: true,
        message: `gave up at once (locks ${order}): pid ${cycle.pid} held what the swap waited for while waiting for a lock the swap held`,
      };
    }
    if (err instanceof NotFreeAtOnce) return { ok: false, blockers, quick: true, message: `${err.message} (locks ${order})` };
    if (isLockFailure(err)) return { ok: false, blockers, quick: false, message: `${(err as Error).message} (locks ${order})` };
    throw err;
  }
}

/**
 * Takes the swap's locks in plan order (see plan/swap-locks.ts). The waits together last at
 * most lock_timeout. An application session can only be waiting behind rpcl since rpcl asked
 * for its first lock, and its deadlock check comes deadlock_timeout after its wait began; so
 * once rpcl holds a lock, every further wait ends within 80 % of the server's deadlock_timeout
 * counted from that first request, and rpcl's wait times out (releasing everything) before the
 * application's check could pick an application session as the victim. When that time is
 * spent, a lock is only taken if it is free at once.
 */
async function lockTables(run: TableRun, order: LockOrder): Promise<{ firstGrantAt: number; tableGrantAt: number }> {
  const { work } = run;
  const table = tableRef(run.facts);
  const deadlock = await work.query<{ ms: number }>(`SELECT setting::int AS ms FROM pg_settings WHERE name = 'deadlock_timeout'`);
  const requestedAt = performance.now();
  const deadline = requestedAt + 0.8 * (deadlock.rows[0]?.ms ?? 1000);
  let firstGrantAt: number | null = null;
  let tableGrantAt = requestedAt;
  for (const step of swapLocks(run.facts, order)) {
    if (step.locks) {
      const now = performance.now();
      let ms = run.conn.lockTimeoutMs - (now - requestedAt);
      if (firstGrantAt !== null) ms = Math.min(ms, deadline - now);
      await setLocalTimeouts(work, { lockTimeoutMs: step.immediate ? 1 : Math.max(1, ms) });
    }
    try {
      await runStep(work, step);
    } catch (err) {
      if (step.immediate && isLockFailure(err)) throw new NotFreeAtOnce(step.locks![0]!.table);
      throw err;
    }
    if (step.locks) {
      const now = performance.now();
      firstGrantAt ??= now;
      if (step.locks[0]!.table === table) tableGrantAt = now;
    }
  }
  return { firstGrantAt: firstGrantAt ?? tableGrantAt, tableGrantAt };
}

/** A lock taken only if free at once was not: the attempt gives up having barely waited. */
class NotFreeAtOnce extends Error {
  constructor(table: string) {
    super(`${table} was not free at once`);
  }
}

/**
 * A partition's ATTACH runs at client_min_messages = debug1 (plan/partition.ts): the server
 * then says whether it found the partition constraints implied. A scan there means a proof
 * was missing: the swap still committed (the statement_timeout bounds it), but it is said.
 */
function reportServerMessages(run: TableRun, said: string[]): void {
  for (const message of said) {
    if (ATTACH_SCANS.test(message)) {
      run.emit({ type: 'warning', ref: run.ref, message: `ATTACH read rows under the swap's locks: ${message}` });
    } else {
      run.log.debug(`server: ${message}`, run.ref);
    }
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

