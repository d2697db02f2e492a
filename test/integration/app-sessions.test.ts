/**
 * The application around the table while it is repacked (issue 11, "Application sessions in
 * the workload"; design notes sections 3 and 6): readers through the view and joins with the
 * child table, child-table writers whose foreign key points at the table, cascading deletes on
 * the parent, a 5-second report in the middle of the run and a writer transaction that opens
 * before the run and commits after the copy snapshot, next to the dual-write writers and the
 * latency probe. No application session may see an error the repack caused, the writers' worst
 * stall stays within lock_timeout + 100 ms, and the data and the child table stay consistent.
 *
 * Then the deadlock of issue 11 item 2, made deterministic: an application session that holds
 * one object the swap locks (the view, the child table, the table, the serial sequence) and
 * queues for another behind the swap's lock request, while the swap, once granted that one,
 * wants the first. A sampler also checks the rule itself: the swap never waits for a lock while
 * it holds the table's ACCESS EXCLUSIVE lock.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config/keys.js';
import { AppSessions } from '../support/app-sessions.js';
import { makeHome, spawnCli, writeConfig, type RunningCli } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { type Probe, seedProbe } from '../support/probe.js';
import { connectionConfig, loadSeed, sessionAs } from '../support/seed.js';
import { type SwapWait, SwapWaitWatch } from '../support/swap-waits.js';
import { checksum, SeedWorkload } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('app', async (d, s) => {
  db = d;
  sql = s;
});

const ROWS = 100_000;
const SWAP_ATTEMPTS = 8;
const REPLAY_PAUSE_MS = 3500;
const APP_QUEUED_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function config(lines: string[]): string {
  return connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'check_time = 1', ...lines]);
}

/**
 * Waits the sampler saw in more than one sample (longer than its 10 ms interval). Shorter ones
 * are tolerated: ALTER SEQUENCE has no NOWAIT, so a swap may give it a 1 ms lock_timeout instead.
 */
function waitedUnderLock(waits: SwapWait[]): SwapWait[] {
  return waits.filter((w) => w.samples > 1);
}

async function startSwapWaitWatch(): Promise<{ watch: SwapWaitWatch; client: pg.Client }> {
  const client = await sessionAs(db, 'swap wait watch');
  const watch = new SwapWaitWatch(client);
  watch.start();
  return { watch, client };
}

/** The probe reads and writes row 1 (mirrored), which no other session touches. */
async function startProbe(): Promise<{ probe: Probe; client: pg.Client }> {
  const client = await sessionAs(db, 'probe');
  const probe = seedProbe(client);
  probe.start();
  return { probe, client };
}

/** The child table's foreign key is still there, points at the table and is validated; no orphans. */
async function childConsistency(): Promise<{ fk: unknown[]; orphans: number }> {
  const fk = await sql.query(
    `SELECT conname, confrelid::regclass::text AS target, convalidated
     FROM pg_constraint WHERE conrelid = 'table_with_fk'::regclass AND contype = 'f'`,
  );
  const orphans = await sql.query(
    `SELECT count(*)::int AS n FROM table_with_fk f WHERE NOT EXISTS (SELECT 1 FROM table_for_repack t WHERE t.id = f.tfr_id)`,
  );
  return { fk: fk.rows, orphans: orphans.rows[0].n };
}

function lastLines(text: string, n = 40): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

describe('repack_tables with the application running', () => {
  // The last variant rewrites the table in the order of a column (an ORDER BY copy, batches
  // replayed in that order) with another fillfactor: the application must not notice either.
  const TABLE_OPTIONS = [
    '[connections.seed.table_options."public.table_for_repack"]', 'order_by = ["value", "created_at DESC"]', 'fillfactor = 80',
  ];
  const variants = [
    ['200ms', 'snapshot', []], [null, 'snapshot', []], ['200ms', 'chunked', []], ['200ms', 'snapshot', TABLE_OPTIONS],
  ] as const;
  for (const [lockTimeout, copyMode, tableOptions] of variants) {
    const lockTimeoutMs = lockTimeout === null ? DEFAULTS.lockTimeoutMs : 200;
    const withOptions = tableOptions.length > 0 ? ', order_by and fillfactor' : '';
    it(`no application error, writers' worst stall <= lock_timeout + 100 ms (lock_timeout ${lockTimeout ?? `default, ${lockTimeoutMs} ms`}, ${copyMode} copy${withOptions})`, async () => {
      await loadSeed(sql, ROWS);
      await AppSessions.prepareChildRows(sql);
      const home = makeHome();
      // The report legitimately fails the attempts it overlaps, and a swap that must take the child
      // table's lock after the table's (child inserts lock them in the other order) may fail an
      // attempt when a child insert queued behind it: the run gets more than the default 5.
      writeConfig(home, 'default', config([
        `swap_attempts = ${SWAP_ATTEMPTS}`, `copy_mode = "${copyMode}"`, 'chunk_time = 0.1', ...(lockTimeout === null ? [] : [`lock_timeout = "${lockTimeout}"`]),
        ...tableOptions,
      ]));

      const writers = await Promise.all([1, 2].map(() => sessionAs(db, 'writer')));
      const workload = new SeedWorkload(writers, 11);
      const app = await AppSessions.open((name) => sessionAs(db, name), { seed: 11 });
      const { probe, client: probeClient } = await startProbe();
      const { watch, client: watchClient } = await startSwapWaitWatch();
      await app.openLongWriter();
      workload.start();
      app.start();
      await sleep(500);

      // rpcl pauses at the start of replay, so the writers and the application keep working
      // between the copy and the swap, and the report, started once the copy snapshot is taken,
      // spans the copy, the index builds, replay and the first swap attempt (or two).
      const run: RunningCli = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: `replay:${REPLAY_PAUSE_MS}` } });
      let report: Promise<void> | undefined;
      const during = (async () => {
        await run.waitFor(copyMode === 'chunked' ? /phase copy: in chunks/ : /copy snapshot taken/);
        await app.commitLongWriter();
        report = app.startReport(5);
      })().catch((err: Error) => err);
      const result = await run.done;
      const duringError = await during;
      await sleep(500);
      await report;
      const [stats, appResult] = await Promise.all([workload.stop(), app.stop()]);
      await probe.stop();
      const swapWaits = await watch.stop();
      expect.soft(watch.errors, 'the swap wait watch ran').toEqual([]);
      await Promise.all([...writers, probeClient, watchClient].map((c) => c.end()));

      const output = result.stdout + result.stderr;
      const held = [...output.matchAll(/lock held (\d+) ms/g)].map((m) => Number(m[1]));
      const attempts = [...output.matchAll(/swap attempt \d+\/\d+ (?:succeeded|failed)[^\n]*/g)].map((m) => m[0].slice(0, 220));
      const summary = {
        exit: result.code,
        attempts,
        lockHeldMs: held,
        writersWorstMs: Math.round(stats.worstMs),
        probeWorstMs: Math.round(probe.worstMs),
        appWritersWorstMs: Math.round(appResult.writersWorstMs),
        appReadersWorstMs: Math.round(appResult.readersWorstMs),
        applicationErrors: appResult.applicationErrors.length,
        expected: appResult.expected,
        seedWorkloadExpected: stats.expectedByCode,
        swapWaits,
        report: appResult.report,
        longWriter: appResult.longWriter,
        sessions: appResult.sessions.map((s) => `${s.name}: ${s.commits} ok, worst ${Math.round(s.worstMs)} ms (${s.worstStatement.slice(0, 70)})`),
      };
      console.log(`lock_timeout ${lockTimeout ?? 'default'}:`, JSON.stringify(summary, null, 1));

      expect.soft(duringError, 'acting during the run').toBeUndefined();
      expect.soft(result.code, `rpcl exit code; output:\n${lastLines(output)}`).toBe(0);
      expect.soft(appResult.applicationErrors, 'errors the repack caused in application sessions').toEqual([]);
      expect.soft(stats.unexpected, 'unexpected errors of the dual-write writers').toEqual([]);
      expect.soft(probe.errors, 'probe errors').toEqual([]);
      expect.soft(appResult.report.started && appResult.report.error === null, 'the report ran without error').toBe(true);
      expect.soft(appResult.report.durationMs ?? 0).toBeGreaterThanOrEqual(5000);
      expect.soft(appResult.longWriter.committed, 'the long writer committed').toBe(true);
      expect.soft(stats.commits).toBeGreaterThan(100);
      expect.soft(probe.operations).toBeGreaterThan(50);
      for (const s of appResult.sessions.filter((x) => x.role === 'reader' || x.role === 'writer')) {
        expect.soft(s.commits, `${s.name} made progress`).toBeGreaterThan(10);
      }

      // Stalls, from the application's own timing (not rpcl's log).
      const bound = lockTimeoutMs + 100;
      expect.soft(stats.worstMs, "dual-write writers' worst statement (ms)").toBeLessThanOrEqual(bound);
      expect.soft(probe.worstMs, "probe's worst operation (ms)").toBeLessThanOrEqual(bound);
      expect.soft(appResult.writersWorstMs, "child writers' and parent deleters' worst statement (ms)").toBeLessThanOrEqual(bound);
      expect.soft(output, "the swap's lock-hold time is in the run's output").toMatch(/swap attempt \d+\/\d+ succeeded: lock held \d+ ms/);
      expect.soft(waitedUnderLock(swapWaits), "locks the swap waited for while it held the table's ACCESS EXCLUSIVE lock").toEqual([]);

      // Data: the table equals its control copy; the child table is consistent.
      expect.soft(await checksum(sql, 'table_for_repack'), 'table = control').toEqual(await checksum(sql, 'control_for_repack'));
      const child = await childConsistency();
      expect.soft(child.fk, 'the child table keeps its validated foreign key').toEqual([
        { conname: 'table_with_fk_tfr_id_fkey', target: 'table_for_repack', convalidated: true },
      ]);
      expect.soft(child.orphans, 'child rows without a parent').toBe(0);
      if (tableOptions.length > 0) {
        // value is id % 1000: in insertion order its correlation is about 0. The rows the
        // writers changed during the run went in after the ordered copy, hence not exactly 1.
        await sql.query('ANALYZE table_for_repack');
        const stats = await sql.query(
          `SELECT (SELECT correlation FROM pg_stats WHERE tablename = 'table_for_repack' AND attname = 'value') AS correlation,
                  (SELECT reloptions FROM pg_class WHERE oid = 'table_for_repack'::regclass) AS reloptions`,
        );
        expect.soft(stats.rows[0].correlation, 'physical order of value after the repack').toBeGreaterThan(0.9);
        expect.soft(stats.rows[0].reloptions, 'the fillfactor asked for').toEqual(['fillfactor=80']);
      }
    });
  }
});

/**
 * Issue 11 item 2, deterministic. A blocker holds ACCESS SHARE on the table (or on the child
 * table), so the swap's request for ACCESS EXCLUSIVE on it queues. An application statement
 * then takes its first lock (the view, the child table, or the table) and queues for its second
 * behind the swap's request. The blocker ends: the swap gets that lock and, if it then wants
 * the object the application session already holds, each waits for the other: a deadlock.
 * lock_timeout is the default (3 s), longer than deadlock_timeout (1 s), so PostgreSQL's deadlock
 * detector ends it unless rpcl's own wait ends first. The application session queued
 * APP_QUEUED_MS before the blocker ends, as it would behind a swap that waits for its lock in
 * production, so its deadlock check runs first and it is the one cancelled. A swap that never
 * waits while it holds a lock the application needs next passes; so does one that gives up on
 * its own within deadlock_timeout of the application's wait.
 */
describe("the swap never waits for a lock while it holds the table's", () => {
  async function waitUntil(what: string, check: () => Promise<boolean>, run: RunningCli, timeoutMs = 30_000): Promise<void> {
    const start = Date.now();
    while (!(await check())) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting until ${what}:\n${lastLines(run.output())}`);
      await sleep(5);
    }
  }

  const blockedBy = async (pid: number) => {
    const r = await sql.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name LIKE 'rpcl%' AND $1::int = ANY(pg_blocking_pids(pid))`,
      [pid],
    );
    return r.rows[0].n > 0;
  };
  const isWaiting = async (pid: number) => {
    const r = await sql.query(`SELECT cardinality(pg_blocking_pids($1::int)) > 0 AS w`, [pid]);
    return r.rows[0].w as boolean;
  };

  const scenarios = [
    {
      name: 'a reader through the view, then the table, in one transaction',
      // The swap queues for the table; the first statement locks the view, then queues for the table.
      blocker: `SELECT count(*) FROM table_for_repack WHERE id = 1`,
      first: `SELECT count(*) FROM view_on_repack WHERE id = 3`,
      then: `SELECT name, value FROM table_for_repack WHERE id = 3`,
    },
    {
      name: 'an insert into the child table (its foreign-key check reads the table), then the table',
      // The swap queues for the table; the insert locks the child table, then its foreign-key
      // check queues for the table.
      blocker: `SELECT count(*) FROM table_for_repack WHERE id = 1`,
      first: `INSERT INTO table_with_fk (tfr_id, note) VALUES (3, 'order line')`,
      then: `SELECT name, value FROM table_for_repack WHERE id = 3`,
    },
    {
      name: 'a reader joining the table with the child table, while the swap waits for the child table',
      // The swap queues for the child table; the join locks the table, then queues for the child.
      blocker: `SELECT count(*) FROM table_with_fk`,
      first: `SELECT t.id, t.name, c.note FROM table_for_repack t JOIN table_with_fk c ON c.tfr_id = t.id WHERE t.id = 3`,
      then: `SELECT count(*) FROM view_on_repack WHERE id = 3`,
    },
    {
      name: 'a delete on the table that cascades to the child table, while the swap waits for the child table',
      // The swap queues for the child table; the delete locks the table, then its cascade queues
      // for the child. Mirrored into the control table in the same transaction.
      blocker: `SELECT count(*) FROM table_with_fk`,
      first: `DELETE FROM table_for_repack WHERE id = 3`,
      then: `DELETE FROM control_for_repack WHERE id = 3`,
    },
    {
      name: 'a transaction that read the table, then reads the view, while the swap waits for the view',
      // The transaction holds the table from before the run; the swap queues for the view (a
      // long reader through it); the transaction's read through the view queues behind it.
      before: `SELECT name, value FROM table_for_repack WHERE id = 3`,
      blocker: `SELECT count(*) FROM view_on_repack WHERE id = 1`,
      first: `SELECT count(*) FROM view_on_repack WHERE id = 3`,
      then: `SELECT name, value FROM table_for_repack WHERE id = 5`,
    },
  ] as { name: string; before?: string; blocker: string; first: string; then: string }[];

  for (const s of scenarios) {
    it(`${s.name}: no error for the application, and the run succeeds`, async () => {
      await loadSeed(sql, 10_000);
      await sql.query(`INSERT INTO table_with_fk (tfr_id, note) VALUES (3, 'line 1'), (3, 'line 2')`);
      const home = makeHome();
      writeConfig(home, 'default', config([]));
      const blocker = await sessionAs(db, 'blocker');
      const blockerPid: number = (await blocker.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
      await blocker.query('BEGIN');
      await blocker.query(s.blocker);
      const appClient = await sessionAs(db, 'app session');
      const appPid: number = (await appClient.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
      const errors: string[] = [];
      let appMs = 0;
      const timeline: string[] = [];
      const mark = (what: string) => timeline.push(`${new Date().toISOString().slice(11, 23)} ${what}`);

      await appClient.query('BEGIN');
      if (s.before !== undefined) await appClient.query(s.before);

      const { watch, client: watchClient } = await startSwapWaitWatch();
      const run = spawnCli(['repack_tables', '--debug'], { home });
      let app: Promise<void> | undefined;
      try {
        // The swap's lock request queues behind the blocker.
        await waitUntil('rpcl waits for the blocker', () => blockedBy(blockerPid), run);
        mark('rpcl queued behind the blocker');
        const t = performance.now();
        let done = false;
        app = appClient.query(s.first).then(
          () => undefined,
          (err: { code?: string; message: string }) => void errors.push(`${err.code} ${err.message} (${s.first})`),
        ).finally(() => {
          done = true;
          appMs = performance.now() - t;
          mark('application statement done');
        });
        // (A swap that locks in another order may not be in the application's way at all.)
        await waitUntil('the application session queues behind rpcl', async () => done || (await isWaiting(appPid)), run);
        if (!done) {
          mark('application session queued');
          // As in production, the application session has queued a while before rpcl gets the
          // lock it waits for: it is the first waiter, so its deadlock check runs first.
          await sleep(APP_QUEUED_MS);
        }
      } finally {
        await blocker.query('COMMIT');
        mark('blocker committed');
      }
      await app;
      if (errors.length === 0) {
        await appClient.query(s.then).catch((err: { code?: string; message: string }) => errors.push(`${err.code} ${err.message} (${s.then})`));
      }
      await appClient.query(errors.length === 0 ? 'COMMIT' : 'ROLLBACK');
      const result = await run.done;
      const swapWaits = await watch.stop();
      expect.soft(watch.errors, 'the swap wait watch ran').toEqual([]);
      await Promise.all([blocker.end(), appClient.end(), watchClient.end()]);
      const output = result.stdout + result.stderr;
      const attempts = [...output.matchAll(/swap attempt \d+\/\d+ (?:succeeded|failed)[^\n]*/g)].map((m) => m[0].slice(0, 200));
      console.log(`${s.name}:`, JSON.stringify({ exit: result.code, errors, appMs: Math.round(appMs), attempts, swapWaits, timeline }, null, 1));

      expect.soft(errors, 'errors the application session saw').toEqual([]);
      expect.soft(waitedUnderLock(swapWaits), "locks the swap waited for while it held the table's ACCESS EXCLUSIVE lock").toEqual([]);
      expect.soft(result.code, `rpcl exit code; output:\n${lastLines(output)}`).toBe(0);
      expect.soft(await checksum(sql, 'table_for_repack'), 'table = control').toEqual(await checksum(sql, 'control_for_repack'));
      const child = await childConsistency();
      expect.soft(child.orphans).toBe(0);
      expect.soft(child.fk).toEqual([{ conname: 'table_with_fk_tfr_id_fkey', target: 'table_for_repack', convalidated: true }]);
    });
  }

  // The serial's sequence: nextval holds RowExclusiveLock on it to the end of the transaction,
  // and ALTER SEQUENCE (the swap moves the sequence's ownership) wants SHARE ROW EXCLUSIVE.
  it('a transaction that took an id from the serial sequence before the swap and then inserts it: no error, no wait under the lock', async () => {
    await loadSeed(sql, 10_000);
    const home = makeHome();
    writeConfig(home, 'default', config([]));
    const appClient = await sessionAs(db, 'app session');
    const appPid: number = (await appClient.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
    const errors: string[] = [];
    await appClient.query('BEGIN');
    const id: string = (await appClient.query(`SELECT nextval('table_for_repack_id_seq') AS id`)).rows[0].id;

    const { watch, client: watchClient } = await startSwapWaitWatch();
    const run = spawnCli(['repack_tables', '--debug'], { home });
    // Until rpcl waits for this session, or its first swap attempt is over.
    await waitUntil(
      'the first swap attempt has started',
      async () => (await blockedBy(appPid)) || /swap attempt 1\/\d+ (failed|succeeded)/.test(run.output()),
      run,
    );
    const t = performance.now();
    for (const statement of [
      `INSERT INTO table_for_repack (id, name, value, excluded) VALUES ($1::int, 'pre-allocated ' || $1::int, 5, nextval('excluded_seq'))`,
      `INSERT INTO control_for_repack SELECT id, name, value, excluded, created_at FROM table_for_repack WHERE id = $1::int`,
    ]) {
      if (errors.length === 0) {
        await appClient.query(statement, [id]).catch((err: { code?: string; message: string }) => errors.push(`${err.code} ${err.message} (${statement})`));
      }
    }
    const appMs = performance.now() - t;
    await appClient.query(errors.length === 0 ? 'COMMIT' : 'ROLLBACK');
    const result = await run.done;
    const swapWaits = await watch.stop();
    expect.soft(watch.errors, 'the swap wait watch ran').toEqual([]);
    await Promise.all([appClient.end(), watchClient.end()]);
    const output = result.stdout + result.stderr;
    const attempts = [...output.matchAll(/swap attempt \d+\/\d+ (?:succeeded|failed)[^\n]*/g)].map((m) => m[0].slice(0, 200));
    console.log('serial sequence:', JSON.stringify({ exit: result.code, errors, appMs: Math.round(appMs), attempts, swapWaits }, null, 1));

    expect.soft(errors, 'errors the application session saw').toEqual([]);
    expect.soft(waitedUnderLock(swapWaits), "locks the swap waited for while it held the table's ACCESS EXCLUSIVE lock").toEqual([]);
    expect.soft(result.code, `rpcl exit code; output:\n${lastLines(output)}`).toBe(0);
    expect.soft(await checksum(sql, 'table_for_repack'), 'table = control').toEqual(await checksum(sql, 'control_for_repack'));
    expect.soft((await sql.query(`SELECT count(*)::int AS n FROM table_for_repack WHERE id = $1`, [id])).rows[0].n).toBe(1);
  });
});
