/**
 * What a failed, killed or blocked REINDEX CONCURRENTLY leaves, and who removes it: the
 * INVALID _ccnew index of a killed rebuild removed by abort_repack, the next repack_indexes and
 * drop_schema (a user's own INVALID index left alone), a rebuild the server finishes after rpcl
 * died, rpcl's own session terminated, a blocker and a long transaction bounded by lock_timeout
 * and named, and a reader past the swap step leaving _ccold.
 */
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../support/cli.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { CONTROL, PKEY, QIDX, T, useReindexFixture } from '../support/reindex-fixture.js';

const fx = useReindexFixture('reidxleft');

describe('repack_indexes leftovers and waits', () => {
  for (const cleaner of ['abort_repack', 'repack_indexes', 'drop_schema', 'repack_tables'] as const) {
    it(`the INVALID _ccnew index of a killed rebuild is removed by ${cleaner}; a user's INVALID index is left alone`, async () => {
      await fx.freshTable(50_000);
      // A user's failed CREATE INDEX CONCURRENTLY: INVALID, and not rpcl's.
      await fx.sql.query(`CREATE UNIQUE INDEX CONCURRENTLY "user broken" ON ${T} ((id % 2))`).catch(() => undefined);
      expect(await fx.invalidIndexes()).toEqual(['"Idx Schema"."user broken"']);
      // An open writer transaction: the rebuild waits for it after creating its new index.
      const holder = await fx.session('holder');
      await holder.query(`BEGIN; UPDATE ${T} SET payload = 'held' WHERE id = 10`);
      const home = fx.config(['lock_timeout = "60s"']);
      fx.running = spawnCli(['repack_indexes', '--debug', '--index', QIDX], { home });
      const waiting = async () =>
        (await fx.sql.query(
          `SELECT 1 FROM pg_stat_activity a WHERE a.datname = current_database() AND a.application_name = 'rpcl reindex' AND a.wait_event_type = 'Lock'
             AND EXISTS (SELECT 1 FROM pg_class WHERE relname = 'with"quote_ccnew')`,
        )).rows.length > 0;
      for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await waiting()).toBe(true);
      fx.running.kill('SIGKILL');
      await fx.running.done;
      fx.running = undefined;
      // rpcl is gone, but its REINDEX still runs in the server: that rebuild is live, left alone.
      if (cleaner === 'abort_repack') {
        const live = await runCli(['abort_repack', '--yes'], { home });
        expect(live.code).toBe(5);
        expect(live.stdout).toMatch(/a live rpcl rebuild of index "Idx Schema"\."with""quote" is running: left alone/);
      }
      await fx.sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rpcl reindex' AND datname = current_database()`);
      await holder.query('COMMIT');
      for (let i = 0; i < 40 && (await fx.sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'rpcl%'`)).rows.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await fx.invalidIndexes()).toEqual(['"Idx Schema"."user broken"', '"Idx Schema"."with""quote_ccnew"']);

      const args = cleaner === 'repack_indexes' ? [cleaner, '--debug', '--index', PKEY] : cleaner === 'repack_tables' ? [cleaner, '--debug'] : [cleaner, '--yes'];
      const tableBefore = (await fx.sql.query(`SELECT $1::regclass::oid::int8 AS o`, [T])).rows[0].o;
      const run = await runCli(args, { home });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      if (cleaner === 'repack_tables') {
        // rpcl's leftover goes first; the user's INVALID index then refuses the table (a copy
        // would rebuild it as a valid one), which is left as it was.
        expect(run.stdout + run.stderr).toMatch(/its index "user broken" is INVALID \(a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY\)/);
        expect((await fx.sql.query(`SELECT $1::regclass::oid::int8 AS o`, [T])).rows[0].o).toBe(tableBefore);
      } else if (cleaner !== 'repack_indexes') {
        // Listed in the confirmation plan first, then removed.
        expect(run.stdout).toMatch(
          new RegExp(`${cleaner} will remove:\\n(  - .*\\n)*  - the INVALID "Idx Schema"\\."with""quote_ccnew" left by an interrupted rebuild of index "Idx Schema"\\."with""quote"`),
        );
        expect(run.stdout).not.toMatch(/user broken/);
      }
      if (cleaner === 'abort_repack') {
        expect(run.stdout).toMatch(/cleaned up an interrupted rebuild of index "Idx Schema"\."with""quote" on "Idx Schema"\."Mixed Case": removed INVALID index "Idx Schema"\."with""quote_ccnew"/);
      }
      expect(run.stdout + run.stderr).toMatch(/with""quote_ccnew/);
      expect(await fx.invalidIndexes()).toEqual(['"Idx Schema"."user broken"']);
      expect(await rpclLeftovers(fx.sql)).toEqual([]);
      // The original index is whole: valid, and finds every row.
      const { rows } = await fx.sql.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)`, [QIDX]);
      expect(rows).toEqual([{ indisvalid: true }]);
      if (cleaner === 'drop_schema') {
        expect((await fx.sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rpcl'`)).rows).toEqual([]);
      }
    });
  }

  it('rpcl killed while the server goes on: the rebuild finishes in the server and a later abort_repack records it as done', async () => {
    await fx.freshTable(20_000);
    const before = await fx.size(QIDX);
    const { holder, home, run } = await fx.rebuildWaitingForAWriter();
    run.kill('SIGKILL');
    await run.done;
    fx.running = undefined;
    await holder.query('COMMIT');
    const gone = async () => (await fx.sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'rpcl%'`)).rows.length === 0;
    for (let i = 0; i < 200 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await gone()).toBe(true);
    expect(await fx.invalidIndexes()).toEqual([]);
    expect(await fx.size(QIDX)).toBeLessThan(before / 2);
    const abort = await runCli(['abort_repack', '--yes'], { home });
    expect(abort.code, abort.stdout + abort.stderr).toBe(0);
    const { rows } = await fx.sql.query(`SELECT status, last_error, size_after > 0 AS measured, leftovers_removed FROM rpcl.index_runs`);
    expect(rows).toEqual([{ status: 'done', last_error: 'rpcl died, but the server finished the rebuild', measured: true, leftovers_removed: true }]);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
  });

  it("its own session terminated mid-rebuild: rpcl fails that index and removes the _ccnew itself", async () => {
    await fx.freshTable(20_000);
    const { holder, run } = await fx.rebuildWaitingForAWriter();
    await fx.sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rpcl reindex' AND datname = current_database()`);
    // Its DROP INDEX CONCURRENTLY waits for the open writer like everything else: release it.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await fx.invalidIndexes()).toEqual(['"Idx Schema"."with""quote_ccnew"']);
    await holder.query('COMMIT');
    const result = await run.done;
    fx.running = undefined;
    expect(result.code).toBe(6);
    expect(result.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): failed: the rebuild's session was lost: .*; removed INVALID index "Idx Schema"\."with""quote_ccnew"/);
    expect(await fx.invalidIndexes()).toEqual([]);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
  });

  it('a session holding a conflicting lock: bounded by lock_timeout, retried, named; writers not stalled; nothing left', async () => {
    await fx.freshTable(50_000);
    const blocker = await fx.session('the blocker');
    await blocker.query(`BEGIN; LOCK TABLE ${T} IN SHARE UPDATE EXCLUSIVE MODE`);
    const pid = (await blocker.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
    const home = fx.config(['lock_timeout = "300ms"', 'swap_attempts = 3']);
    const w = await fx.startWriters(2);
    const started = Date.now();
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    const took = Date.now() - started;
    await fx.stopWriters();
    await blocker.query('ROLLBACK');

    expect(run.code, run.stderr).toBe(6);
    expect(run.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): failed: .*lock_timeout \(300 ms\) in 3 attempts/);
    expect(run.stdout).toContain(`pid ${pid} (user`);
    expect(run.stdout).toContain('application "the blocker"');
    expect(run.stderr.match(/attempt \d\/3: a lock or an older transaction was not released/g)?.length).toBe(2);
    // 3 attempts of 300 ms, backoff 0.5 s + 1 s, start-up: well under the minute it would hang.
    expect(took).toBeLessThan(15_000);
    expect(w.errors).toEqual([]);
    expect(w.worstMs).toBeLessThan(1000);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
    expect(await fx.invalidIndexes()).toEqual([]);
  });

  it('deadlock_resolution = kill_query ends a session holding a lock on the table, never one that only holds an old snapshot', async () => {
    await fx.freshTable(50_000);
    // Only a snapshot, from another table: the rebuild waits for it, but it blocks no lock.
    const backup = await fx.session('nightly backup');
    await backup.query(`BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM ${CONTROL}`);
    const home = fx.config(['lock_timeout = "300ms"', 'swap_attempts = 2', 'deadlock_resolution = "kill_query"']);
    const first = await runCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    expect(first.code, first.stderr).toBe(6);
    expect(first.stderr).not.toMatch(/deadlock_resolution kill_query: terminated/);
    expect((await backup.query(`SELECT 1 AS alive`)).rows, 'the snapshot holder is left alone').toEqual([{ alive: 1 }]);
    await backup.query('COMMIT');

    // A lock on the table in the rebuild's way: terminated after the first failed attempt.
    const blocker = await fx.session('stuck migration');
    await blocker.query(`BEGIN; LOCK TABLE ${T} IN SHARE UPDATE EXCLUSIVE MODE`);
    const pid = (await blocker.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
    const second = await runCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(new RegExp(`deadlock_resolution kill_query: terminated pid ${pid} \\(user`));
    expect(await fx.invalidIndexes()).toEqual([]);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
  });

  it('a reader holding the table in a long transaction: the leftover cannot be dropped, so no second attempt piles up another; abort_repack removes it later', async () => {
    await fx.freshTable(50_000);
    const reader = await fx.session('long reader');
    await reader.query(`BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM ${T}`);
    const home = fx.config(['lock_timeout = "300ms"', 'swap_attempts = 3']);
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    expect(run.code, run.stderr).toBe(6);
    expect(run.stdout).toMatch(/"Idx Schema"\."with""quote_ccnew" could not be dropped yet, so no further attempt is made: run rpcl abort_repack/);
    expect(run.stderr).not.toMatch(/attempt \d\/3: .*retrying/);
    expect(await fx.invalidIndexes()).toEqual(['"Idx Schema"."with""quote_ccnew"']);
    await reader.query('COMMIT');
    const abort = await runCli(['abort_repack', '--yes'], { home });
    expect(abort.code, abort.stdout + abort.stderr).toBe(0);
    expect(await fx.invalidIndexes()).toEqual([]);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
  });

  it('a long transaction (an old snapshot) makes the rebuild fail after lock_timeout, named, its new index dropped', async () => {
    await fx.freshTable(50_000);
    const long = await fx.session('long report');
    await long.query(`BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM ${CONTROL}`);
    const pid = (await long.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
    const home = fx.config(['lock_timeout = "500ms"', 'swap_attempts = 2']);
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    // Still open: rpcl dropped its leftover without waiting for it.
    expect(await fx.invalidIndexes()).toEqual([]);
    await long.query('ROLLBACK');
    expect(run.code, run.stderr).toBe(6);
    expect(run.stdout).toContain(`pid ${pid} (user`);
    expect(run.stdout).toMatch(/long transactions hold REINDEX CONCURRENTLY too/);
    expect(run.stderr).toMatch(/removed INVALID index "Idx Schema"\."with""quote_ccnew/);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
    const { rows } = await fx.sql.query(`SELECT status, leftovers_removed, attempts FROM rpcl.index_runs`);
    expect(rows).toEqual([{ status: 'failed', leftovers_removed: true, attempts: 2 }]);
  });

  it('a reader holding the table past the swap step: the index is rebuilt, its _ccold copy removed later by abort_repack', async () => {
    await fx.freshTable(50_000);
    const reader = await fx.session('open reader');
    // READ COMMITTED, idle after its query: no snapshot left, but its ACCESS SHARE lock on the
    // table stays, which only the last steps (dropping the old index) wait for.
    await reader.query(`BEGIN; SELECT count(*) FROM ${T}`);
    const before = await fx.size(QIDX);
    const home = fx.config(['lock_timeout = "300ms"', 'swap_attempts = 2']);
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): done in .*; rebuilt; the old copy of the index is still there; could not remove "Idx Schema"\."with""quote_ccold"/);
    expect(await fx.size(QIDX)).toBeLessThan(before / 2);
    expect(await fx.invalidIndexes()).toEqual(['"Idx Schema"."with""quote_ccold"']);
    await reader.query('COMMIT');
    const abort = await runCli(['abort_repack', '--yes'], { home });
    expect(abort.code, abort.stdout + abort.stderr).toBe(0);
    expect(abort.stdout).toMatch(/removed INVALID index "Idx Schema"\."with""quote_ccold"/);
    expect(await fx.invalidIndexes()).toEqual([]);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
    const { rows } = await fx.sql.query(`SELECT status, leftovers_removed FROM rpcl.index_runs`);
    expect(rows).toEqual([{ status: 'done', leftovers_removed: true }]);
  });
});
