/**
 * `status` from another terminal: a live run's phase and progress, a dead run, a finished one;
 * a prepared copy and the replay_data run that brings it up to date; what abort_repack did.
 */
import { hostname } from 'node:os';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { connectionConfig, loadSeed, tableOid } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('status', async (d, s) => {
  db = d;
  sql = s;
  await loadSeed(s, 10000);
});

describe('status', () => {
  it('shows a live run, then a dead one, then a finished one', async () => {
    const config = connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1']);
    const runner = makeHome();
    writeConfig(runner, 'default', config);
    const observer = makeHome();
    writeConfig(observer, 'default', config);

    const run = spawnCli(['repack_tables', '--debug'], { home: runner, env: { RPCL_TEST_PAUSE: 'replay:60000' } });
    await run.waitFor(/phase replay/);
    await new Promise((r) => setTimeout(r, 300));
    const live = JSON.parse((await runCli(['status', '--json'], { home: observer })).stdout).tables;
    expect(live).toEqual([
      expect.objectContaining({
        connection: 'seed', table: 'public.table_for_repack', status: 'running', live: true, phase: 'replay',
        rows_copied: expect.any(Number), rows_estimate: expect.any(Number), last_error: null,
      }),
    ]);
    expect(live[0].rows_copied).toBeGreaterThan(4000);

    run.kill('SIGKILL');
    await run.done;
    const dead = await runCli(['status'], { home: observer });
    expect(dead.stdout).toMatch(/seed public\.table_for_repack: died \(its process is gone: the next repack_tables or abort_repack cleans it up\), phase replay/);

    expect((await runCli(['repack_tables'], { home: runner })).code).toBe(0);
    const done = JSON.parse((await runCli(['status', '--json'], { home: observer })).stdout).tables;
    expect(done).toEqual([expect.objectContaining({ status: 'done', live: false, phase: 'done', size_after: expect.any(Number) })]);
  });
});

/** Asks status (JSON) until `ok` holds for the table's row, or fails after timeoutMs. */
async function statusUntil(home: string, ok: (row: Record<string, unknown>) => boolean, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const start = Date.now();
  let last: unknown;
  while (Date.now() - start < timeoutMs) {
    const rows = JSON.parse((await runCli(['status', '--json'], { home })).stdout).tables;
    last = rows[0];
    if (last !== undefined && ok(last as Record<string, unknown>)) return last as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status never matched; last: ${JSON.stringify(last)}`);
}

async function logRows(oid: number): Promise<number> {
  return Number((await sql.query(`SELECT count(*)::int AS n FROM rpcl.log_${oid}`)).rows[0].n);
}

describe('status of prepared copies', () => {
  it('counts the backlog in the log, names replay_data while it works, and says what abort_repack did', async () => {
    // check_time 3: replay_data's passes are 3 s apart, time enough to see the copy between two.
    const config = connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 3']);
    const home = makeHome();
    writeConfig(home, 'default', config);
    try {
      await preparedCopyLifecycle(home);
    } finally {
      // Whatever failed, the next test starts without a prepared copy.
      await runCli(['abort_repack'], { home });
    }
  });
});

async function preparedCopyLifecycle(home: string): Promise<void> {
  expect((await runCli(['prepare_repack', '--foreground'], { home })).code).toBe(0);
  const oid = await tableOid(sql, 'table_for_repack');
  await sql.query(`UPDATE table_for_repack SET value = value + 1 WHERE id % 3 = 1`);
  const logged = await logRows(oid);
  expect(logged).toBeGreaterThan(1000);

  // Nothing replays it: the backlog is the log's, not the last one the prepare run wrote.
  const prepared = JSON.parse((await runCli(['status', '--json'], { home })).stdout).tables;
  expect(prepared).toEqual([expect.objectContaining({ status: 'prepared', live: false, phase: 'prepared', backlog: logged, backlog_capped: false })]);
  expect((await runCli(['status'], { home })).stdout).toMatch(
    new RegExp(`^seed public\\.table_for_repack: prepared \\(capture logs every change: replay_data applies them, repack_tables swaps the copy, abort_repack removes it\\), phase prepared, backlog ${logged}, .*, elapsed \\d+ s, last replayed \\d+ s ago \\[`),
  );

  // replay_data, slowed down: each batch waits 3 s before it commits.
  const replay = spawnCli(['replay_data', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay-batch:3000' } });
  try {
    const working = await statusUntil(home, (r) => r.live === true && r.phase === 'replay');
    expect(working).toMatchObject({ status: 'prepared', live: true, phase: 'replay', runner_pid: replay.pid, runner_host: hostname(), backlog: logged });
    const text = (await runCli(['status'], { home })).stdout;
    expect(text).toContain(`seed public.table_for_repack: prepared, being brought up to date by pid ${replay.pid} on ${hostname()}, phase replay, backlog ${logged}`);
    // Its pass done, the copy is prepared again, caught up, with the rates replay_data measured.
    const caughtUp = await statusUntil(home, (r) => r.live === false && r.phase === 'prepared');
    expect(caughtUp).toMatchObject({ status: 'prepared', backlog: 0, runner_pid: replay.pid, replay_rate: expect.any(Number) });
  } finally {
    replay.kill('SIGTERM');
    await replay.done;
  }

  expect((await runCli(['abort_repack'], { home })).code).toBe(0);
  const aborted = JSON.parse((await runCli(['status', '--json'], { home })).stdout).tables;
  expect(aborted).toEqual([expect.objectContaining({ status: 'aborted', live: false, phase: 'aborted' })]);
  const text = (await runCli(['status'], { home })).stdout;
  expect(text).toMatch(/^seed public\.table_for_repack: aborted: its kept copy was removed by abort_repack/);
  expect(text).not.toMatch(/died/);
}

describe('status during the copy and the index builds', () => {
  it('shows the backlog in every phase, what is known of the copy, and a time left from the indexes built', async () => {
    const config = connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1']);
    const home = makeHome();
    writeConfig(home, 'default', config);
    const oid = await tableOid(sql, 'table_for_repack');
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:8000,index:60000' } });
    try {
      await run.waitFor(/phase copy/);
      await statusUntil(home, (r) => r.phase === 'copy' && r.live === true);
      // Writes during the copy: logged after the copy's snapshot, so they stay in the log.
      await sql.query(`UPDATE table_for_repack SET value = value + 1 WHERE id % 50 = 1`);
      const copying = (await runCli(['status'], { home })).stdout;
      // Before: `copied - of ~5000 rows elapsed 0 s`.
      expect(copying).toMatch(/^seed public\.table_for_repack: running, phase copy, (~\d+ rows to copy, none written yet|copy .* written \(\d+%\), ~\d+ rows to copy), backlog \d+, elapsed \d+ s/);
      expect(copying).not.toMatch(/ - /);

      await statusUntil(home, (r) => r.phase === 'index' && r.live === true);
      const backlog = await logRows(oid);
      expect(backlog).toBeGreaterThan(0);
      // The run waits before its first index: one built by hand stands for the first build done.
      await sql.query(`CREATE INDEX status_test_idx ON rpcl.copy_${oid} (id)`);
      const indexing = await statusUntil(home, (r) => r.indexes_built === 1);
      expect(indexing).toMatchObject({ phase: 'index', indexes_built: 1, indexes_total: 5, backlog, remaining_basis: 'indexes built', remaining_s: expect.any(Number) });
      expect((await runCli(['status'], { home })).stdout).toMatch(
        new RegExp(`^seed public\\.table_for_repack: running, phase index, indexes built 1 of 5, backlog ${backlog}, elapsed \\d+ s, about \\d+ s left \\[`),
      );
    } finally {
      run.kill('SIGKILL');
      await run.done;
    }
    expect((await runCli(['abort_repack'], { home })).code).toBe(0);
  });
});
