/**
 * A long run checks what it can before it detaches into the background (issue 14, item 1):
 * with log_dest = "file" and --background, a server that is down or a misspelt table ends the
 * command in the foreground with the message and a non-zero exit code, and nothing starts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/embedded/server.js';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, loadSeed, tableOid } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('preflight', async (d, s) => {
  db = d;
  sql = s;
});

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('before detaching', () => {
  it('a server that is down: exit 4 with the connection error, nothing detached', async () => {
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig({ ...db, port: await freePort() }, [`tables = ["public.table_for_repack"]`]));
    const r = await runCli(['repack_tables', '--background'], { home });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/ECONNREFUSED|could not connect|connection refused/i);
    expect(r.stdout).not.toMatch(/runs in the background/);
  });

  it('a misspelt table: exit 5 naming it, nothing detached, nothing created', async () => {
    await loadSeed(sql, 1000);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.ordrs", "public.table_for_repack"]`]));
    const r = await runCli(['repack_tables', '--background'], { home });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/rpcl: seed public\.ordrs: refused: table public\.ordrs does not exist: check the tables list/);
    expect(r.stderr).toMatch(/repack_tables did not start: fix the above, then run it again/);
    expect(r.stdout).not.toMatch(/runs in the background/);
    expect((await sql.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'rpcl'`)).rows[0].n).toBe(0);
  });

  it('a good config detaches, and the background run does the work', async () => {
    await loadSeed(sql, 2000);
    const oid = await tableOid(sql, 'table_for_repack');
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"']));
    const r = await runCli(['repack_tables', '--background'], { home });
    expect(r.code).toBe(0);
    const pid = Number(/runs in the background \(pid (\d+)\)/.exec(r.stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    for (let i = 0; i < 600 && isAlive(pid); i++) await new Promise((res) => setTimeout(res, 100));
    expect(isAlive(pid)).toBe(false);
    // The background run's own exit code and table lines, where status reads them.
    const outcome = JSON.parse(readFileSync(join(home, '.repcloud', 'pid', 'repack_tables_default.outcome.json'), 'utf8'));
    expect(outcome).toMatchObject({ command: 'repack_tables', config: 'default', pid, exitCode: 0 });
    expect(outcome.lines).toEqual([expect.stringMatching(/^seed public\.table_for_repack: done in [\d.]+ s/)]);
    const status = await runCli(['status'], { home });
    expect(status.stdout).toMatch(new RegExp(`last background repack_tables of config default \\(pid ${pid}\\): exit 0 at \\d{4}-\\d\\d-\\d\\dT`));
    expect(status.stdout).toMatch(/^  seed public\.table_for_repack: done in/m);
    const json = JSON.parse((await runCli(['status', '--json'], { home })).stdout);
    expect(json.background_runs).toEqual([expect.objectContaining({ command: 'repack_tables', pid, exit_code: 0, lines: outcome.lines })]);
    expect(json.tables).toEqual([expect.objectContaining({ table: 'public.table_for_repack', status: 'done' })]);
    expect(await tableOid(sql, 'table_for_repack')).not.toBe(oid);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});
