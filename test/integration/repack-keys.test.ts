/**
 * Nothing lost or doubled for a composite key (quoted schema and names), a uuid key and a
 * table of TOASTed values with an identity key and a generated column, under 4 writers
 * each, several seeds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, projectRoot, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { KeyedWorkload, keyFixtures, tableChecksum } from '../support/keyed-workload.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, sessionAs, tableOid } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('keys', async (d, s) => {
  db = d;
  sql = s;
});

async function definitions(table: string): Promise<string[]> {
  const { rows } = await sql.query(
    `SELECT 'index ' || c.relname || ': ' || pg_get_indexdef(c.oid) AS d FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = $1::regclass
     UNION ALL SELECT 'constraint ' || conname || ': ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass
     ORDER BY 1`,
    [table],
  );
  return rows.map((r) => r.d);
}

async function reload(): Promise<void> {
  await sql.query(`DROP SCHEMA IF EXISTS rpcl CASCADE; DROP SCHEMA IF EXISTS "Sales Schema" CASCADE;
    DROP TABLE IF EXISTS public.uuid_items, public.uuid_items_control, public.docs, public.docs_control`);
  await sql.query(readFileSync(join(projectRoot, 'test', 'fixtures', 'keys.sql'), 'utf8'));
}

describe('keys other than a serial', () => {
  for (const fixture of keyFixtures) {
    for (const seed of [11, 12]) {
      it(`${fixture.table}: table equals control after a run under 4 writers (seed ${seed})`, async () => {
        await reload();
        const oid = await tableOid(sql, fixture.table);
        const definitionsBefore = await definitions(fixture.table);
        const writers = await Promise.all([1, 2, 3, 4].map(() => sessionAs(db, 'writer')));
        const workload = new KeyedWorkload(fixture, writers, seed);
        const home = makeHome();
        writeConfig(home, 'default', connectionConfig(db, [
          `tables = ['${fixture.table.replace(/'/g, "''")}']`, 'lock_timeout = "1s"', 'check_time = 1',
        ]));
        workload.start();
        await new Promise((r) => setTimeout(r, 300));
        const run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:400,replay:400' } });
        await new Promise((r) => setTimeout(r, 200));
        await workload.stop();
        await Promise.all(writers.map((w) => w.end()));
        expect(run.stderr).toMatch(/swap attempt \d\/5 succeeded/);
        expect(run.code).toBe(0);
        expect(workload.unexpected).toEqual([]);
        expect(workload.commits).toBeGreaterThan(50);
        expect(await tableOid(sql, fixture.table)).not.toBe(oid);
        expect(await tableChecksum(sql, fixture.table, fixture.keys)).toEqual(
          await tableChecksum(sql, fixture.control, fixture.keys),
        );
        expect(await rpclLeftovers(sql)).toEqual([]);
        // Every index and constraint is back, under its own name, with its exact definition.
        expect(await definitions(fixture.table)).toEqual(definitionsBefore);
      });
    }
  }

  it('an identity column keeps its sequence name, options and value', async () => {
    await reload();
    await sql.query(`ALTER TABLE public.docs ALTER COLUMN id SET INCREMENT BY 3`);
    const before = await sql.query(`SELECT pg_get_serial_sequence('public.docs', 'id') AS seq, (SELECT last_value FROM public.docs_id_seq) AS v`);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ['public.docs']`, 'lock_timeout = "1s"']));
    expect((await runCli(['repack_tables'], { home })).code).toBe(0);
    const after = await sql.query(
      `SELECT pg_get_serial_sequence('public.docs', 'id') AS seq, s.seqincrement::int AS inc, a.attidentity::text AS kind
       FROM pg_sequence s, pg_attribute a WHERE s.seqrelid = 'public.docs_id_seq'::regclass
       AND a.attrelid = 'public.docs'::regclass AND a.attname = 'id'`,
    );
    expect(after.rows[0]).toEqual({ seq: before.rows[0].seq, inc: 3, kind: 'a' });
    const next = await sql.query(`INSERT INTO public.docs (body) VALUES ('x') RETURNING id`);
    expect(Number(next.rows[0].id)).toBe(Number(before.rows[0].v) + 3);
  });
});
