/**
 * Staged runs: prepare_repack, replay_data, the stop commands and background runs, and a later
 * repack_tables that swaps the prepared copy without copying again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, loadSeed, sessionAs, tableOid } from '../support/seed.js';
import { checksum, SeedWorkload } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('prepare', async (d, s) => {
  db = d;
  sql = s;
});
beforeEach(async () => {
  await loadSeed(sql, 10000);
});

const config = () => connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1']);

async function copyOid(): Promise<number> {
  const { rows } = await sql.query(`SELECT c.oid::int8 AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'rpcl' AND c.relkind = 'r' AND c.relname LIKE 'copy\\_%'`);
  expect(rows).toHaveLength(1);
  return Number(rows[0].oid);
}

async function withWriters<T>(body: () => Promise<T>): Promise<T> {
  const writers = await Promise.all([1, 2].map(() => sessionAs(db, 'writer')));
  const workload = new SeedWorkload(writers, 31);
  workload.start();
  try {
    return await body();
  } finally {
    const stats = await workload.stop();
    await Promise.all(writers.map((w) => w.end()));
    expect(stats.unexpected).toEqual([]);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('prepare_repack', () => {
  it('prepares, keeps capturing while writers write, then repack_tables swaps the same copy', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    let prepared = 0;
    await withWriters(async () => {
      const p = await runCli(['prepare_repack', '--debug'], { home });
      expect(p.stderr).toMatch(/preparing keeps every copy until its swap: about [\d.]+ [kM]B of extra space in total/);
      // A prepared table is a success: said as one, and never logged as an ERROR.
      expect(p.stdout).toMatch(/public\.table_for_repack: prepared in [\d.]+ s: the copy is kept in sync by capture; `rpcl repack_tables` swaps it without copying again, `rpcl abort_repack` removes it/);
      expect(p.stderr).toMatch(/INFO \[seed public\.table_for_repack\] prepared in [\d.]+ s: the copy is kept in sync/);
      expect(p.stderr).not.toMatch(/ERROR/);
      expect(p.code).toBe(0);
      prepared = await copyOid();
      const state = await sql.query(`SELECT status FROM rpcl.runs ORDER BY run_id DESC LIMIT 1`);
      expect(state.rows[0].status).toBe('prepared');
      await sleep(1000); // writes land in the log meanwhile
      const r = await runCli(['repack_tables', '--debug'], { home });
      expect(r.stderr).toMatch(/resuming the prepared copy: no second copy is made/);
      expect(r.stderr).not.toMatch(/phase copy/);
      expect(r.code).toBe(0);
    });
    expect(await tableOid(sql, 'table_for_repack')).toBe(prepared);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('prepare --start-replay and replay_data run in the background and stop cleanly; the copy stays in sync', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const pidDir = join(home, '.repcloud', 'pid');
    await withWriters(async () => {
      const bg = await runCli(['prepare_repack', '--start-replay', '--background'], { home });
      expect(bg.stdout).toMatch(/prepare_repack runs in the background \(pid \d+\)\.\n {2}log: +\S+repack_default\.log\n {2}pid file: \S+prepare_repack_default\.pid/);
      expect(bg.code).toBe(0);
      for (let i = 0; i < 100 && (await sql.query(`SELECT 1 FROM rpcl.runs WHERE status = 'prepared'`).catch(() => ({ rowCount: 0 }))).rowCount === 0; i++) await sleep(100);
      await sleep(1500);
      const stop = await runCli(['stop_prepare'], { home });
      expect(stop.stdout).toMatch(/prepare_repack \(pid \d+\) stopped after [\d.]+ s/);
      expect(existsSync(join(pidDir, 'prepare_repack_default.pid'))).toBe(false);

      const replay = await runCli(['replay_data', '--background'], { home });
      expect(replay.code).toBe(0);
      await sleep(2500);
      const stopReplay = await runCli(['stop_replay'], { home });
      expect(stopReplay.stdout).toMatch(/replay_data \(pid \d+\) stopped/);
    });
    // Writers stopped: one more sync empties the log; the copy then equals the table.
    const prepared = await copyOid();
    const oid = await tableOid(sql, 'table_for_repack');
    const sync = await runCli(['replay_data', '--background'], { home });
    expect(sync.code).toBe(0);
    await sleep(1500);
    expect((await runCli(['stop_replay'], { home })).code).toBe(0);
    const cmp = await sql.query(
      `SELECT (SELECT count(*) FROM rpcl.log_${oid})::int AS backlog,
              (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM (SELECT id, name, value, excluded, created_at FROM rpcl.copy_${oid}) t) =
              (SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM (SELECT id, name, value, excluded, created_at FROM table_for_repack) t) AS same`,
    );
    expect(cmp.rows[0]).toEqual({ backlog: 0, same: true });
    const r = await runCli(['repack_tables'], { home });
    expect(r.code).toBe(0);
    expect(await tableOid(sql, 'table_for_repack')).toBe(prepared);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
  });

  it('abort_repack removes a prepared copy and leaves the table as it was', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const oid = await tableOid(sql, 'table_for_repack');
    expect((await runCli(['prepare_repack'], { home })).code).toBe(0);
    const r = await runCli(['abort_repack'], { home });
    expect(r.stdout).toMatch(/seed: aborted the prepared copy of public\.table_for_repack; the table is as it was/);
    expect(r.code).toBe(0);
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    expect(await rpclLeftovers(sql)).toEqual([]);
    await sql.query(`BEGIN; TRUNCATE table_for_repack CASCADE; ROLLBACK`);
  });
});

describe('background repack_tables', () => {
  it('stop_repack ends it within seconds and leaves the table consistent', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const oid = await tableOid(sql, 'table_for_repack');
    await withWriters(async () => {
      const bg = await runCli(['repack_tables', '--background'], { home, env: { RPCL_TEST_PAUSE: 'replay:60000' } });
      expect(bg.stdout).toMatch(/repack_tables runs in the background/);
      for (let i = 0; i < 100 && (await sql.query(`SELECT 1 FROM rpcl.runs WHERE phase = 'replay'`).catch(() => ({ rowCount: 0 }))).rowCount === 0; i++) await sleep(100);
      const t = Date.now();
      const stop = await runCli(['stop_repack'], { home });
      expect(stop.stdout).toMatch(/repack_tables \(pid \d+\) stopped/);
      expect(Date.now() - t).toBeLessThan(5000);
    });
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    expect(await rpclLeftovers(sql)).toEqual([]);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    const state = await sql.query(`SELECT status, phase FROM rpcl.runs ORDER BY run_id DESC LIMIT 1`);
    expect(state.rows[0]).toEqual({ status: 'stopped', phase: 'stopped' });
    // A requested stop is a warning, not an ERROR that alerting would page on.
    const log = readFileSync(join(home, '.repcloud', 'logs', 'repack_default.log'), 'utf8');
    expect(log).toMatch(/WARNING \[seed public\.table_for_repack\] stopped: stopped on request before the swap/);
    expect(log).not.toMatch(/ERROR/);
  });
});
