/**
 * The guards around a run: a second run on the same table is refused; TRUNCATE during a run
 * commits and the run goes on; writes under session_replication_role = replica are
 * captured; a replay that cannot catch up stops cleanly after catchup_timeout, naming both
 * rates; largest estimated bloat goes first.
 */
import type pg from 'pg';
import { beforeEach, describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, loadSeed, sessionAs, tableOid } from '../support/seed.js';
import { checksum, SeedWorkload } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('guards', async (d, s) => {
  db = d;
  sql = s;
});
beforeEach(async () => {
  await loadSeed(sql, 10000);
});

const config = (lines: string[] = []) =>
  connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1', ...lines]);

describe('guards', () => {
  it('refuses a second run on the same table while the first is working on it', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    writeConfig(home, 'other', config());
    const first = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:2000' } });
    await first.waitFor(/phase replay/);
    const second = await runCli(['repack_tables', '--config', 'other'], { home });
    expect(second.stdout).toMatch(/public\.table_for_repack: refused: another rpcl run is working on this table/);
    expect(second.code).toBe(5);
    const done = await first.done;
    expect(done.code).toBe(0);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
  });

  it('lets TRUNCATE during the run commit, and the run goes on to an equally empty table', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:1000' } });
    await run.waitFor(/phase replay/);
    await sql.query(`TRUNCATE table_for_repack, control_for_repack CASCADE`);
    expect((await run.done).code).toBe(0);
    expect(await checksum(sql, 'table_for_repack')).toEqual({ rows: 0, md5: '' });
    expect(await checksum(sql, 'control_for_repack')).toEqual({ rows: 0, md5: '' });
    // Nothing of rpcl's is left on the table.
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('captures writes made under session_replication_role = replica', async () => {
    const replica = await sessionAs(db, 'replica writer');
    await replica.query(`SET session_replication_role = replica`);
    const normal = await sessionAs(db, 'writer');
    const workload = new SeedWorkload([replica, normal], 5);
    const home = makeHome();
    writeConfig(home, 'default', config());
    workload.start();
    const run = await runCli(['repack_tables'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:300,replay:500' } });
    const stats = await workload.stop();
    await replica.end();
    await normal.end();
    expect(run.code).toBe(0);
    expect(stats.unexpected).toEqual([]);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
  });

  it('stops cleanly when replay cannot catch up within catchup_timeout, naming both rates', async () => {
    const oid = await tableOid(sql, 'table_for_repack');
    const writers = await Promise.all([1, 2, 3, 4].map(() => sessionAs(db, 'busy writer')));
    const workload = new SeedWorkload(writers, 9, 0);
    const home = makeHome();
    // Replay made slow (each batch takes 500 ms) while 4 writers never pause: the backlog
    // left after a batch never fits under the lock.
    writeConfig(home, 'default', config(['max_replay_rows = 1', 'catchup_timeout = 3']));
    workload.start();
    const run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay-batch:500' } });
    await workload.stop();
    await Promise.all(writers.map((w) => w.end()));
    expect(run.stderr).toMatch(/failed: replay could not catch up within 3 s: changes arrive at \d+ rows\/s and replay drains \d+ rows\/s/);
    // What the cleanup did is on the terminal too, not only in the log.
    expect(run.stdout).toMatch(/seed public\.table_for_repack: failed: replay could not catch up .*; cleaned up: removed \d+ work objects, the table is as it was/);
    expect(run.code).toBe(6);
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    expect(await rpclLeftovers(sql)).toEqual([]);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
  });

  it('takes the table with the largest estimated bloat first when both lists are empty', async () => {
    await sql.query(`CREATE TABLE public.small_bloat (id int PRIMARY KEY, v text);
      INSERT INTO public.small_bloat SELECT g, repeat('v', 50) FROM generate_series(1, 2000) g;
      DELETE FROM public.small_bloat WHERE id % 4 = 0;
      CREATE TABLE public.big_bloat (id int PRIMARY KEY, v text);
      INSERT INTO public.big_bloat SELECT g, repeat('v', 50) FROM generate_series(1, 40000) g;
      DELETE FROM public.big_bloat WHERE id % 4 <> 0;
      ANALYZE public.small_bloat, public.big_bloat`);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, ['schemas = []', 'tables = []', 'lock_timeout = "1s"']));
    const run = await runCli(['repack_tables', '--debug'], { home });
    // Several tables: the order is the sample's.
    expect(run.stderr).toMatch(/\[seed\] \d+ tables selected, largest estimated bloat first \(bloat estimate: [1-9]\d* pages? read\)/);
    const order = run.stdout.split('\n').filter((l) => /: (done|refused|failed)/.test(l)).map((l) => l.split(':')[0]);
    expect(order.indexOf('seed public.big_bloat')).toBe(0);
    expect(order.indexOf('seed public.small_bloat')).toBeGreaterThan(order.indexOf('seed public.table_for_repack'));
    expect(run.code).toBe(0);
  });
});
