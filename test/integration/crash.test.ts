/**
 * Crash recovery (design notes, invariant 9): rpcl is killed with SIGKILL at each phase while
 * the application keeps writing. The table stays intact and writable throughout, and the next
 * command (abort_repack, or repack_tables) recognises the dead run, says what it did, and
 * leaves no trigger or work table; the data equals the control copy.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, loadSeed, sessionAs, tableOid } from '../support/seed.js';
import { checksum, SeedWorkload } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('crash', async (d, s) => {
  db = d;
  sql = s;
});

const points: [string, RegExp, boolean][] = [
  ['copy', /phase copy/, false],
  ['copy-snapshot', /copy snapshot taken/, false],
  ['index', /phase index/, false],
  ['replay', /phase replay/, false],
  ['swap-locked', /swap lock granted/, false],
  ['after-swap', /swap attempt 1\/5 succeeded/, true],
];

describe('drop_schema after a crash', () => {
  it('says which run it cleaned up, and removes everything of rpcl', async () => {
    await loadSeed(sql, 5000);
    const oid = await tableOid(sql, 'table_for_repack');
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"']));
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:60000' } });
    await run.waitFor(/phase replay/);
    run.kill('SIGKILL');
    await run.done;
    const drop = await runCli(['drop_schema', '--debug'], { home });
    expect(drop.stderr).toMatch(/cleaned up a run that died before its swap on public\.table_for_repack; the table is as it was/);
    expect(drop.code).toBe(0);
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    const left = await sql.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'rpcl'`);
    expect(left.rows[0].n).toBe(0);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});

describe('SIGKILL at each phase', () => {
  for (const [point, reached, swapped] of points) {
    for (const next of ['abort_repack', 'repack_tables'] as const) {
      it(`killed at ${point}, then ${next}`, async () => {
        await loadSeed(sql, 10000);
        const oid = await tableOid(sql, 'table_for_repack');
        const writers = await Promise.all([1, 2].map(() => sessionAs(db, 'writer')));
        const workload = new SeedWorkload(writers, 21);
        const home = makeHome();
        writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1']));
        workload.start();
        const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: `${point}:60000` } });
        await run.waitFor(reached);
        await new Promise((r) => setTimeout(r, 200));
        run.kill('SIGKILL');
        expect((await run.done).code).toBe(137);
        // The application never notices: its writes go on after the kill.
        const commitsAtKill = workload.stats.commits;
        await new Promise((r) => setTimeout(r, 300));
        expect(workload.stats.commits).toBeGreaterThan(commitsAtKill);
        expect(await tableOid(sql, 'table_for_repack') === oid).toBe(!swapped);

        const after = await runCli([next, '--debug'], { home });
        await workload.stop();
        await Promise.all(writers.map((w) => w.end()));
        if (next === 'repack_tables') {
          expect(after.stderr).toMatch(/replaced a stale pid file for repack_tables \(pid \d+ is not running\)/);
        }
        expect(after.stderr).toMatch(swapped ? /completed a run that died after its swap/ : /cleaned up a run that died before its swap/);
        expect(after.code).toBe(0);
        expect(workload.stats.unexpected).toEqual([]);
        expect(await rpclLeftovers(sql)).toEqual([]);
        expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
        const fk = await sql.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'table_with_fk_tfr_id_fkey'`);
        expect(fk.rows).toEqual([{ convalidated: true }]);
        if (next === 'repack_tables') expect(after.stdout).toMatch(/public\.table_for_repack: done/);
      });
    }
  }
});
