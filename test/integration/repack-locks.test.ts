/**
 * What the application feels: a probe reading and writing every few milliseconds never waits
 * longer than lock_timeout + 100 ms, also while another session blocks the swap and rpcl
 * retries; a blocker that never lets go makes the run fail after its bounded attempts and the
 * table is left as it was, with no trigger and no work table; deadlock_resolution acts on
 * exactly the blocking session; a change of the table's definition ends the run cleanly.
 */
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { type Probe, seedProbe } from '../support/probe.js';
import { connectionConfig, loadSeed, sessionAs, tableOid } from '../support/seed.js';
import { checksum } from '../support/workload.js';
import { watchBlockers } from '../../src/execute/blockers.js';

let db: TestDatabase;
let sql: pg.Client;
const LOCK_TIMEOUT_MS = 300;

useTestDatabase('locks', async (d, s) => {
  db = d;
  sql = s;
});
beforeEach(async () => {
  await loadSeed(sql, 10000);
});

function config(lines: string[] = []): string {
  return connectionConfig(db, [
    `tables = ["public.table_for_repack"]`, `lock_timeout = "${LOCK_TIMEOUT_MS}ms"`, 'check_time = 1', ...lines,
  ]);
}

/** The probe updates a row it mirrors into the control table, so the oracle still holds. */
async function startProbe(): Promise<{ probe: Probe; client: pg.Client }> {
  const client = await sessionAs(db, 'probe');
  const probe = seedProbe(client);
  probe.start();
  return { probe, client };
}

describe('swap lock', () => {
  it('keeps every stall within lock_timeout + 100 ms while a reader blocks the swap and rpcl retries', async () => {
    const { probe, client } = await startProbe();
    const blocker = await sessionAs(db, 'long reader');
    await blocker.query(`BEGIN; SELECT count(*) FROM table_for_repack`);
    const home = makeHome();
    writeConfig(home, 'default', config(['swap_attempts = 6']));
    const run = spawnCli(['repack_tables', '--debug'], { home });
    // Let two attempts fail against the reader, then let it go.
    await run.waitFor(/swap attempt 2\/6 failed/);
    await blocker.query('COMMIT');
    const result = await run.done;
    await probe.stop();
    expect(result.stderr).toMatch(/swap attempt 1\/6 failed: canceling statement due to lock timeout \(locks dependents-first\) blocked by pid \d+ \(user \w+, application "long reader"/);
    expect(result.stderr).toMatch(/swap attempt \d\/6 succeeded/);
    expect(result.code).toBe(0);
    expect(probe.errors).toEqual([]);
    expect(probe.operations).toBeGreaterThan(50);
    expect(probe.worstMs).toBeLessThanOrEqual(LOCK_TIMEOUT_MS + 100);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    expect(await rpclLeftovers(sql)).toEqual([]);
    await client.end();
    await blocker.end();
  });

  it('after its bounded attempts against a blocker that never lets go, keeps the copy prepared; the table is as it was; a later run swaps it without copying again', async () => {
    const oid = await tableOid(sql, 'table_for_repack');
    const before = await checksum(sql, 'table_for_repack');
    const { probe, client } = await startProbe();
    const blocker = await sessionAs(db, 'stuck batch job');
    await blocker.query(`BEGIN; SELECT count(*) FROM table_for_repack`);
    const home = makeHome();
    writeConfig(home, 'default', config(['swap_attempts = 3']));
    const started = Date.now();
    const result = await runCli(['repack_tables', '--debug'], { home });
    const tookMs = Date.now() - started;
    await probe.stop();
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(
      /failed: the swap lock was not granted within lock_timeout \(300 ms\) in 3 attempts: blocked by pid \d+ \(user \w+, application "stuck batch job"/,
    );
    expect(result.stdout).toMatch(/the copy is kept prepared and in sync by capture: `rpcl repack_tables` swaps it later without copying again, `rpcl abort_repack` removes it/);
    // Nothing waited on the blocker's lock beyond the attempts: no cleanup queued behind it.
    expect(result.stderr).not.toMatch(/removing its work objects/);
    expect(tookMs).toBeLessThan(15_000);
    expect(probe.worstMs).toBeLessThanOrEqual(LOCK_TIMEOUT_MS + 100);
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    // Intact: the same rows (the probe's own updates mirrored), and writable.
    expect((await checksum(sql, 'table_for_repack')).rows).toBe(before.rows);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    const state = await sql.query(`SELECT status, phase, last_error FROM rpcl.runs ORDER BY run_id DESC LIMIT 1`);
    expect([state.rows[0].status, state.rows[0].phase]).toEqual(['prepared', 'prepared']);
    expect(state.rows[0].last_error).toMatch(/stuck batch job/);
    const status = await runCli(['status'], { home });
    expect(status.stdout).toMatch(/seed public\.table_for_repack: prepared/);

    // The application keeps writing; the blocker ends; the next run swaps the kept copy.
    await sql.query(`INSERT INTO table_for_repack (name, value, excluded) VALUES ('written while prepared', 1, -1)`);
    await sql.query(`INSERT INTO control_for_repack SELECT id, name, value, excluded, created_at FROM table_for_repack WHERE name = 'written while prepared'`);
    await blocker.query('ROLLBACK');
    const next = await runCli(['repack_tables', '--debug'], { home });
    expect(next.stderr).toMatch(/resuming the prepared copy: no second copy is made/);
    expect(next.code).toBe(0);
    expect(await tableOid(sql, 'table_for_repack')).not.toBe(oid);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    expect(await rpclLeftovers(sql)).toEqual([]);
    await client.end();
    await blocker.end();
  });

  it('with swap_deadline, keeps trying beyond swap_attempts and swaps once the blocker lets go', async () => {
    const oid = await tableOid(sql, 'table_for_repack');
    const blocker = await sessionAs(db, 'slow report');
    await blocker.query(`BEGIN; SELECT count(*) FROM table_for_repack`);
    const home = makeHome();
    writeConfig(home, 'default', config(['swap_attempts = 1', 'swap_deadline = "60s"']));
    const run = spawnCli(['repack_tables', '--debug'], { home });
    await run.waitFor(/swap attempt 2\/1 failed/, 30_000);
    await blocker.query('ROLLBACK');
    const result = await run.done;
    await blocker.end();
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/phase swap: attempt 1 of 1\+ \(until swap_deadline\)/);
    expect(result.stderr).toMatch(/swap attempt \d+\/1 succeeded/);
    expect(await tableOid(sql, 'table_for_repack')).not.toBe(oid);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('outside its swap_window, waits for it keeping the copy in sync; a window that opens only after swap_deadline keeps the copy prepared and says why', async () => {
    const now = new Date();
    const hhmm = (d: Date) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    // Opens in two hours at the earliest: closed for the whole test.
    const window = `${hhmm(new Date(now.getTime() + 2 * 3_600_000))}-${hhmm(new Date(now.getTime() + 3 * 3_600_000))}`;
    const home = makeHome();
    writeConfig(home, 'default', config([`swap_window = "${window}"`]));
    const waiting = spawnCli(['repack_tables', '--debug'], { home });
    await waiting.waitFor(new RegExp(`waiting for swap_window ${window} \\(opens in \\d+ min\\); the copy is kept in sync meanwhile`));
    await sql.query(`INSERT INTO table_for_repack (name, value, excluded) VALUES ('written while waiting', 1, -2)`);
    await sql.query(`INSERT INTO control_for_repack SELECT id, name, value, excluded, created_at FROM table_for_repack WHERE name = 'written while waiting'`);
    await new Promise((r) => setTimeout(r, 1500));
    waiting.kill('SIGTERM');
    const stopped = await waiting.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).not.toMatch(/phase swap/);

    writeConfig(home, 'default', config([`swap_window = "${window}"`, 'swap_deadline = "30s"']));
    const result = await runCli(['repack_tables', '--debug'], { home });
    expect(result.stderr).not.toMatch(/phase swap/);
    expect(result.stdout).toMatch(new RegExp(`failed: swap_window ${window} opens in \\d+ min, after swap_deadline\\. The original table is unchanged; the copy is kept prepared`));
    expect(result.code).toBe(6);
    const abort = await runCli(['abort_repack'], { home });
    expect(abort.code).toBe(0);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('deadlock_resolution = kill_query terminates exactly the blocking session and then swaps', async () => {
    const bystander = await sessionAs(db, 'bystander');
    await bystander.query(`BEGIN; SELECT count(*) FROM control_for_repack`);
    const blocker = await sessionAs(db, 'idle in transaction');
    await blocker.query(`BEGIN; SELECT count(*) FROM table_for_repack`);
    const blockerPid = (await blocker.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
    const home = makeHome();
    writeConfig(home, 'default', config(['swap_attempts = 4', 'deadlock_resolution = "kill_query"']));
    const result = await spawnCli(['repack_tables', '--debug'], { home }).done;
    expect(result.stderr).toMatch(new RegExp(`deadlock_resolution kill_query: terminated pid ${blockerPid} \\(user \\w+, application "idle in transaction"`));
    expect(result.code).toBe(0);
    const alive = await sql.query(`SELECT application_name FROM pg_stat_activity WHERE application_name IN ('bystander', 'idle in transaction')`);
    expect(alive.rows).toEqual([{ application_name: 'bystander' }]);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    await bystander.query('ROLLBACK');
    await bystander.end();
    await blocker.end().catch(() => undefined);
  });
});

describe('the table changes shape during the run', () => {
  for (const [what, ddl] of [
    ['ALTER TABLE', `ALTER TABLE table_for_repack ADD COLUMN extra int`],
    ['VACUUM FULL', `VACUUM FULL table_for_repack`],
    ['CLUSTER', `CLUSTER table_for_repack USING table_for_repack_pkey`],
  ] as const) {
    it(`${what} during replay ends the run cleanly before the swap`, async () => {
      const oid = await tableOid(sql, 'table_for_repack');
      const home = makeHome();
      writeConfig(home, 'default', config());
      const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:1500' } });
      await run.waitFor(/phase replay/);
      await sql.query(ddl);
      const result = await run.done;
      expect(result.code).toBe(6);
      expect(result.stderr).toMatch(/failed: the table's (definition|storage \(relfilenode\)) changed during the run/);
      expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
      expect(await rpclLeftovers(sql)).toEqual([]);
      expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    });
  }
});

describe('blocker monitor', () => {
  it('stops at once when stopped while its query runs (the swap waits for it before reporting)', async () => {
    const control = await db.client();
    const pid = (await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    // The monitor's first query is in flight as soon as it is created.
    const monitor = watchBlockers(control, pid, 10_000);
    const started = performance.now();
    expect(await monitor.stop()).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
