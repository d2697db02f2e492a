/**
 * Tables rpcl cannot repack safely are refused before any work: the message names the reason
 * and the remedy, the exit code is the refused one, other tables still run, and the database
 * is unchanged (no trigger, no work table, same OIDs).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, projectRoot, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, tableOid } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('refuse', async (d, s) => {
  db = d;
  sql = s;
  await s.query(readFileSync(join(projectRoot, 'test', 'fixtures', 'refusals.sql'), 'utf8'));
});

async function relfilenodes(): Promise<string> {
  const { rows } = await sql.query(
    `SELECT string_agg(relname || ':' || oid || ':' || relfilenode, ',' ORDER BY relname) AS s
     FROM pg_class WHERE relnamespace = 'public'::regnamespace`,
  );
  return rows[0].s;
}

async function refused(table: string, reason: RegExp): Promise<void> {
  const before = await relfilenodes();
  const home = makeHome();
  writeConfig(home, 'default', connectionConfig(db, [`tables = ['${table}']`]));
  const r = await runCli(['repack_tables'], { home });
  expect(r.stdout + r.stderr).toMatch(reason);
  expect(r.code).toBe(5);
  expect(await relfilenodes()).toBe(before);
  expect(await rpclLeftovers(sql)).toEqual([]);
}

describe('refusals', () => {
  it('no primary key and no NOT NULL unique index', () =>
    refused('public.no_key', /refused: it has no primary key and no NOT NULL unique index .*add one/));
  it('a unique index on a nullable column is no key', () =>
    refused('public.nullable_unique', /refused: it has no primary key and no NOT NULL unique index/));
  it('a view', () => refused('public.a_view', /refused: it is a view: views hold no data/));
  it('a materialized view', () => refused('public.a_matview', /refused: it is a materialized view: use REFRESH MATERIALIZED VIEW CONCURRENTLY/));
  it('a partitioned table without partitions', () =>
    refused('public.parted_empty', /refused: it is a partitioned table, which holds no rows itself: name it in tables and each of its partitions is repacked in turn/));
  it('a partition of a partitioned table that a foreign key references', () =>
    refused('public.parted_1', /refused: foreign key parted_child_parted_id_fkey of public\.parted_child references its partitioned table: detaching a partition makes PostgreSQL check every referencing row/));
  it('a partitioned table that a foreign key references stands for its partitions, each refused', () =>
    refused('public.parted', /seed public\.parted_1: refused: foreign key parted_child_parted_id_fkey/));
  it('an inheritance parent', () => refused('public.inh_parent', /refused: it is an inheritance parent of inh_child/));
  it('an inheritance child', () => refused('public.inh_child', /refused: it inherits from inh_parent/));
  it('a system catalog', () => refused('pg_catalog.pg_class', /refused: it is a system catalog/));
  it('a foreign table', () => refused('public.remote_rows', /refused: it is a foreign table: its data lives on another server/));
  it('a temporary table of another session', async () => {
    const owner = await db.client();
    await owner.query(`CREATE TEMPORARY TABLE scratch (id integer PRIMARY KEY, v text)`);
    const schema = (await owner.query(`SELECT nspname FROM pg_namespace WHERE oid = pg_my_temp_schema()`)).rows[0].nspname;
    await refused(`${schema}.scratch`, /refused: it is a temporary table/);
    expect((await owner.query(`SELECT count(*)::int AS n FROM scratch`)).rows[0].n).toBe(0);
    await owner.end();
  });
  it('a materialized view reading it that has dependents of its own, named', () =>
    refused('public.with_matview', /refused: materialized view public\.mv_on_it reads it and is re-created by the swap, but these depend on it: rule _RETURN on view on_the_matview\. Drop them around the repack/));
  it('a column of another table typed with its row type, named', () =>
    refused('public.with_rowtype_user', /refused: these depend on it and cannot be carried across the swap yet: column r of table holds_rows/));
  it('a table that does not exist', () =>
    refused('public."Nope"', /refused: table public\."Nope" does not exist: check the tables list/));

  it('a table owned by a role the user cannot act as; other listed tables still run', async () => {
    await sql.query(`CREATE ROLE "Other Owner"; CREATE ROLE app_dba LOGIN PASSWORD 'dba-pass'`);
    await sql.query(`CREATE TABLE public.theirs (id int PRIMARY KEY); ALTER TABLE public.theirs OWNER TO "Other Owner"`);
    await sql.query(`CREATE TABLE public.mine (id int PRIMARY KEY, v text); ALTER TABLE public.mine OWNER TO app_dba`);
    await sql.query(`INSERT INTO public.mine SELECT g, 'x' FROM generate_series(1, 500) g`);
    await sql.query(`GRANT CREATE ON DATABASE "${db.database}" TO app_dba; GRANT CREATE ON SCHEMA public TO app_dba`);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig({ ...db, user: 'app_dba', password: 'dba-pass' }, [
      `tables = ['public.theirs', 'public.mine']`,
    ]));
    // The helper schema, installed by the superuser in the tests above, is not app_dba's.
    const denied = await runCli(['repack_tables'], { home });
    expect(denied.stderr).toMatch(
      /the helper schema rpcl belongs to role postgres and role app_dba may not use it\. Have its owner run: GRANT USAGE, CREATE ON SCHEMA rpcl TO "app_dba"/,
    );
    expect(denied.code).toBe(5);
    // The lead that fixes it comes first: the table app_dba does not own, then the schema.
    const ownership = denied.stderr.indexOf('public.theirs: refused: it is owned by "Other Owner"');
    expect(ownership).toBeGreaterThanOrEqual(0);
    expect(ownership).toBeLessThan(denied.stderr.indexOf('the helper schema rpcl belongs to role postgres'));
    await sql.query(`DROP SCHEMA rpcl CASCADE`);
    const theirs = await tableOid(sql, 'public.theirs');
    const mine = await tableOid(sql, 'public.mine');
    const r = await runCli(['repack_tables'], { home });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/refused: it is owned by "Other Owner": connect as "Other Owner"/);
    expect(r.stdout).toMatch(/public\.mine: done/);
    expect(r.code).toBe(5);
    expect(await tableOid(sql, 'public.theirs')).toBe(theirs);
    expect(await tableOid(sql, 'public.mine')).not.toBe(mine);
    const owner = await sql.query(`SELECT pg_get_userbyid(relowner) AS o FROM pg_class WHERE oid = 'public.mine'::regclass`);
    expect(owner.rows[0].o).toBe('app_dba');
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});
