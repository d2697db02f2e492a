/**
 * What the application feels: a probe reading and writing every few milliseconds never waits
 * longer than lock_timeout + 100 ms, also while another session blocks the swap and rpcl
 * retries; a blocker that never lets go makes the run fail after its bounded attempts and the
 * table is left as it was, with no trigger and no work table; deadlock_resolution acts on
 * exactly the blocking session; a change of the table's definition ends the run cleanly.
 */
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeHome, spawnCli, writeConfig } from '../support/cli.js';
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

  it('fails after its bounded attempts against a blocker that never lets go, leaving the table as it was', async () => {
    const oid = await tableOid(sql, 'table_for_repack');
    const before = await checksum(sql, 'table_for_repack');
    const { probe, client } = await startProbe();
    const blocker = await sessionAs(db, 'stuck batch job');
    await blocker.query(`BEGIN; SELECT count(*) FROM table_for_repack`);
    const home = makeHome();
    writeConfig(home, 'default', config(['swap_attempts = 3']));
    const run = spawnCli(['repack_tables', '--debug'], { home });
    // The blocker outlives every swap attempt; it ends only once rpcl is cleaning up, as a
    // batch job eventually would, so the capture trigger can be dropped.
    await run.waitFor(/removing its work objects/);
    await blocker.query('ROLLBACK');
    const result = await run.done;
    await probe.stop();
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(
      /failed: the swap lock was not granted within lock_timeout \(300 ms\) in 3 attempts: blocked by pid \d+ \(user \w+, application "stuck batch job"/,
    );
    expect(probe.worstMs).toBeLessThanOrEqual(LOCK_TIMEOUT_MS + 100);
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    expect(await rpclLeftovers(sql)).toEqual([]);
    const triggers = await sql.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = 'table_for_repack'::regclass AND NOT tgisinternal`);
    expect(triggers.rows[0].n).toBe(0);
    // Intact: the same rows (the probe's own updates mirrored), and writable.
    expect((await checksum(sql, 'table_for_repack')).rows).toBe(before.rows);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    await sql.query(`INSERT INTO table_for_repack (name, value, excluded) VALUES ('still writable', 1, -1)`);
    const state = await sql.query(`SELECT status, last_error FROM rpcl.runs ORDER BY run_id DESC LIMIT 1`);
    expect(state.rows[0].status).toBe('failed');
    expect(state.rows[0].last_error).toMatch(/stuck batch job/);
    await client.end();
    await blocker.end();
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
