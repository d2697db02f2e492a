/**
 * rpcl as it runs on a managed cloud: connected as the tables' owner, not a superuser. The
 * seed example repacks under writers; a referencing table owned by someone else is refused
 * before any work, naming it.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, loadSeed, sessionAs, tableOid } from '../support/seed.js';
import { checksum, SeedWorkload } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('owner', async (d, s) => {
  db = d;
  sql = s;
  await loadSeed(s, 10000);
  await s.query(`CREATE ROLE seed_owner LOGIN PASSWORD 'owner-pass'; CREATE ROLE someone_else`);
  await s.query(`GRANT CREATE ON DATABASE "${d.database}" TO seed_owner; GRANT CREATE ON SCHEMA public TO seed_owner`);
  for (const t of ['table_for_repack', 'table_with_fk', 'control_for_repack']) await s.query(`ALTER TABLE ${t} OWNER TO seed_owner`);
  await s.query(`ALTER VIEW view_on_repack OWNER TO seed_owner`);
});

const asOwner = () =>
  connectionConfig({ ...db, user: 'seed_owner', password: 'owner-pass' }, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1']);

describe('connected as the owner, not a superuser', () => {
  it('repacks the seed example under writers', async () => {
    const writers = await Promise.all([1, 2].map(() => sessionAs(db, 'writer')));
    const workload = new SeedWorkload(writers, 41);
    const home = makeHome();
    writeConfig(home, 'default', asOwner());
    workload.start();
    const r = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:300,replay:300' } });
    const stats = await workload.stop();
    await Promise.all(writers.map((w) => w.end()));
    expect(r.stderr).toMatch(/swap attempt \d\/5 succeeded/);
    expect(r.code).toBe(0);
    expect(stats.unexpected).toEqual([]);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    const owner = await sql.query(`SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = 'table_for_repack'::regclass`);
    expect(owner.rows[0].o).toBe('seed_owner');
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('refuses when a referencing table belongs to another role, naming it', async () => {
    await sql.query(`ALTER TABLE table_with_fk OWNER TO someone_else`);
    const oid = await tableOid(sql, 'table_for_repack');
    const home = makeHome();
    writeConfig(home, 'default', asOwner());
    const r = await runCli(['repack_tables'], { home });
    expect(r.stdout).toMatch(/refused: table public\.table_with_fk references it \(foreign key table_with_fk_tfr_id_fkey\) and is owned by someone_else/);
    expect(r.code).toBe(5);
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});
