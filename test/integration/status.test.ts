/** `status` from another terminal: a live run's phase and progress, a dead run, a finished one. */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { connectionConfig, loadSeed } from '../support/seed.js';

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
    const live = JSON.parse((await runCli(['status', '--json'], { home: observer })).stdout);
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
    const done = JSON.parse((await runCli(['status', '--json'], { home: observer })).stdout);
    expect(done).toEqual([expect.objectContaining({ status: 'done', live: false, phase: 'done', size_after: expect.any(Number) })]);
  });
});
