/**
 * drop_schema and abort_repack list what they will remove and, on a terminal (a
 * pseudo-terminal here), ask first; --yes skips the question; without a terminal none is
 * asked (issue 14).
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { runInPty } from '../support/pty.js';
import { connectionConfig, loadSeed, tableOid } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('confirm', async (d, s) => {
  db = d;
  sql = s;
});

const kept = async (oid: number) =>
  Number((await sql.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::oid AND tgname LIKE 'rpcl_capture_%'`, [oid])).rows[0].n);

async function prepared(): Promise<{ home: string; oid: number }> {
  await loadSeed(sql, 1000);
  const home = makeHome();
  writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"']));
  expect((await runCli(['prepare_repack', '--debug'], { home })).code).toBe(0);
  return { home, oid: await tableOid(sql, 'table_for_repack') };
}

describe('confirmation before removing', () => {
  it('abort_repack on a terminal lists the prepared copy and removes nothing when the answer is no', async () => {
    const { home, oid } = await prepared();
    const r = await runInPty(['abort_repack'], { home, answer: { when: /\[y\/N\] /, with: 'n' } });
    expect(r.stdout).toMatch(/seed: abort_repack will remove:\s+- the prepared copy of public\.table_for_repack, its change log and capture trigger/);
    expect(r.stdout).toMatch(/Remove all of the above\? \[y\/N\]/);
    expect(r.stdout).toMatch(/seed: nothing was removed/);
    expect(r.code).toBe(130);
    expect(await kept(oid)).toBe(2);

    const yes = await runInPty(['abort_repack'], { home, answer: { when: /\[y\/N\] /, with: 'y' } });
    expect(yes.stdout).toMatch(/aborted the prepared copy of public\.table_for_repack; the table is as it was/);
    expect(yes.code).toBe(0);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('drop_schema --yes on a terminal asks nothing, and says what it did', async () => {
    const { home, oid } = await prepared();
    const r = await runInPty(['drop_schema', '--yes'], { home });
    expect(r.stdout).toMatch(/seed: drop_schema will remove:\s+- the prepared copy of public\.table_for_repack/);
    expect(r.stdout).toMatch(/- capture trigger rpcl_capture_\d+ on public\.table_for_repack/);
    expect(r.stdout).not.toMatch(/\[y\/N\]/);
    expect(r.stdout).toMatch(/seed: dropped the helper schema rpcl/);
    expect(r.code).toBe(0);
    expect(await kept(oid)).toBe(0);
    expect((await sql.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'rpcl'`)).rows[0].n).toBe(0);
  });

  it('replay_data in the foreground says what it does and how it ended, whatever log_dest is', async () => {
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, []));
    const run = spawnCli(['replay_data', '--foreground'], { home });
    await run.waitFor(/replay_data: keeping the prepared copies of config default in sync until stopped \(rpcl stop_replay, or Ctrl-C\)/);
    run.kill('SIGTERM');
    const done = await run.done;
    expect(done.stdout).toMatch(/replay_data: stopped; the prepared copies stay in sync through capture/);
    expect(done.code).toBe(0);
  });

  it('without a terminal nobody is asked: create_schema and drop_schema say what they did', async () => {
    await sql.query(`DROP SCHEMA IF EXISTS rpcl CASCADE`);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, []));
    const created = await runCli(['create_schema'], { home });
    expect(created.stdout).toBe('seed: created the helper schema rpcl\n');
    const dropped = await runCli(['drop_schema'], { home });
    expect(dropped.stdout).not.toMatch(/\[y\/N\]/);
    expect(dropped.stdout).toMatch(/seed: dropped the helper schema rpcl/);
    expect(dropped.code).toBe(0);
  });
});
