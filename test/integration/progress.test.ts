/** On a terminal, repack_tables shows progress bars and a line per swap attempt. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, projectRoot, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { connectionConfig, loadSeed } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('progress', async (d, s) => {
  db = d;
  sql = s;
  await loadSeed(s, 20000);
});

/** Runs rpcl under a pseudo-terminal (util-linux `script`). */
function onTerminal(args: string[], home: string): Promise<string> {
  const cmd = [process.execPath, join(projectRoot, 'bin', 'rpcl.js'), ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve, reject) => {
    execFile('script', ['-qefc', cmd, '/dev/null'], { env: { ...process.env, HOME: home, COLUMNS: '120' }, timeout: 120_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

describe('progress', () => {
  it('draws bars for the copy and the indexes on a terminal', async () => {
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"']));
    // Rows deleted since the last ANALYZE (autovacuum kept off): the row estimate exceeds the
    // rows the copy finds, as on any bloated table, and the bar must still end at 100%.
    await sql.query(`ALTER TABLE table_for_repack SET (autovacuum_enabled = off); DELETE FROM table_for_repack WHERE id % 3 = 0`);
    const { rows } = await sql.query(`SELECT count(*)::int AS n, (SELECT reltuples::int FROM pg_class WHERE oid = 'table_for_repack'::regclass) AS estimate FROM table_for_repack`);
    expect(rows[0].estimate).toBeGreaterThan(rows[0].n);
    const out = await onTerminal(['repack_tables', '--foreground'], home);
    const frames = [...out.matchAll(/public\.table_for_repack copy +\|[█░]+\| (\d+)% (\d+)\/(\d+) rows/g)];
    expect(frames.at(-1)?.slice(1).map(Number)).toEqual([100, rows[0].n, rows[0].n]);
    expect(out).toMatch(/public\.table_for_repack indexes \|[█░]+\| 100% 5\/5 built/);
    expect(out).toMatch(/public\.table_for_repack swap attempt 1\/5: done, lock held \d+ ms/);
  });

  it('says on the terminal which leaf of a partitioned table comes next and how many follow', async () => {
    await sql.query(`CREATE TABLE public.events (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
      CREATE TABLE public.events_a PARTITION OF public.events FOR VALUES FROM (0) TO (1000);
      CREATE TABLE public.events_b PARTITION OF public.events FOR VALUES FROM (1000) TO (2000);
      INSERT INTO public.events SELECT g, 'v' FROM generate_series(0, 1999) g`);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.events"]`, 'lock_timeout = "1s"']));
    const out = await onTerminal(['repack_tables', '--foreground'], home);
    expect(out).toMatch(/public\.events: partition 1 of 2, public\.events_[ab] \(1 partition after it\)/);
    expect(out).toMatch(/public\.events: partition 2 of 2, public\.events_[ab] \(0 partitions after it\)/);
    expect(out).toMatch(/public\.events_a: done/);
    expect(out).toMatch(/public\.events_b: done/);
    await sql.query(`DROP TABLE public.events`);
  });

  it('prints no bars when the output is not a terminal', async () => {
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"']));
    const r = await runCli(['repack_tables'], { home });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/[█░]/);
  });
});
