/**
 * abort_repack's words (issue 14, items 6 and 7): a live run is named with the command that
 * stops it, and a prepared copy removed on request is not reported as a run that died.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, loadSeed, tableOid } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('abort', async (d, s) => {
  db = d;
  sql = s;
});

describe('abort_repack', () => {
  it('leaves a live run alone, naming its table and how to stop it', async () => {
    await loadSeed(sql, 2000);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"']));
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:60000' } });
    await run.waitFor(/phase replay/);
    // One table and no threshold: no order to decide, so no bloat sample is read.
    expect(run.output()).toMatch(/\[seed\] 1 table selected, largest estimated bloat first \(bloat estimate: not sampled, nothing to order and no threshold\)/);
    const other = makeHome();
    writeConfig(other, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`]));
    const abort = await runCli(['abort_repack'], { home: other });
    expect(abort.stdout).toMatch(/seed: a live rpcl run is working on public\.table_for_repack: left alone\. Stop it first \(rpcl stop_repack, stop_prepare or stop_replay/);
    expect(abort.stdout).not.toMatch(/table OID/);
    expect(abort.code).toBe(5);
    run.kill('SIGTERM');
    expect((await run.done).code).toBe(130);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('a prepared copy it removes is reported as removed on request, not as a run that died', async () => {
    await loadSeed(sql, 2000);
    const oid = await tableOid(sql, 'table_for_repack');
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"']));
    expect((await runCli(['prepare_repack', '--debug'], { home })).code).toBe(0);
    const abort = await runCli(['abort_repack'], { home });
    expect(abort.code).toBe(0);
    expect(abort.stdout).toMatch(/aborted the prepared copy of public\.table_for_repack; the table is as it was/);
    const status = JSON.parse((await runCli(['status', '--json'], { home })).stdout).tables as { status: string; last_error: string }[];
    expect(status[0]!.status).toBe('aborted');
    expect(status[0]!.last_error).toBe('its kept copy was removed by abort_repack (or drop_schema); the table is as it was');
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});
