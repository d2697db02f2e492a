/**
 * The seed example under concurrent writers, end to end through the real binary: nothing lost
 * or doubled (dual-write oracle), dependents re-pointed, other writer roles unaffected, nothing
 * left behind, and the result as compact as VACUUM FULL makes it.
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

useTestDatabase('seed', async (d, s) => {
  db = d;
  sql = s;
});

const freshSeed = (rows: number) => loadSeed(sql, rows);

function config(extra = ''): string {
  return connectionConfig(db, [
    `tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1', 'swap_attempts = 5', extra,
  ]);
}

const writerClient = (user?: { name: string; password: string }) => sessionAs(db, 'writer', user);
const tableOidOf = (name: string) => tableOid(sql, name);

describe('repack_tables on the seed example', () => {
  for (const seed of [1, 2, 3]) {
    it(`keeps every row under 4 concurrent writers (seed ${seed})`, async () => {
      await freshSeed(20000);
      const oidBefore = await tableOidOf('table_for_repack');
      const writers = await Promise.all([1, 2, 3, 4].map(() => writerClient()));
      const workload = new SeedWorkload(writers, seed);
      const home = makeHome();
      writeConfig(home, 'default', config());
      workload.start();
      await new Promise((r) => setTimeout(r, 300));
      // Writes land inside the copy's snapshot window and during replay, not only around them.
      const run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:400,replay:400' } });
      await new Promise((r) => setTimeout(r, 300));
      const stats = await workload.stop();
      await Promise.all(writers.map((w) => w.end()));

      expect(run.stderr).toMatch(/swap attempt \d\/5 succeeded/);
      expect(run.code).toBe(0);
      expect(stats.unexpected).toEqual([]);
      expect(stats.commits).toBeGreaterThan(100);
      const [table, control] = [await checksum(sql, 'table_for_repack'), await checksum(sql, 'control_for_repack')];
      expect(table).toEqual(control);

      expect(await tableOidOf('table_for_repack')).not.toBe(oidBefore);
      expect(await rpclLeftovers(sql)).toEqual([]);
      const fk = await sql.query(
        `SELECT conname, confrelid::regclass::text AS target, convalidated, pg_get_constraintdef(oid) AS def
         FROM pg_constraint WHERE conrelid = 'table_with_fk'::regclass AND contype = 'f'`,
      );
      expect(fk.rows).toEqual([{
        conname: 'table_with_fk_tfr_id_fkey', target: 'table_for_repack', convalidated: true,
        def: 'FOREIGN KEY (tfr_id) REFERENCES table_for_repack(id) ON UPDATE CASCADE ON DELETE CASCADE',
      }]);
      const orphans = await sql.query(
        `SELECT count(*)::int AS n FROM table_with_fk f WHERE NOT EXISTS (SELECT 1 FROM table_for_repack t WHERE t.id = f.tfr_id)`,
      );
      expect(orphans.rows[0].n).toBe(0);
      const view = await sql.query(
        `SELECT count(*)::int AS n FROM view_on_repack`,
      );
      const direct = await sql.query(`SELECT count(*)::int AS n FROM table_for_repack WHERE value > 10`);
      expect(view.rows[0].n).toBe(direct.rows[0].n);
      const indexes = await sql.query(
        `SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'table_for_repack'::regclass ORDER BY 1`,
      );
      expect(indexes.rows.map((r) => r.name)).toEqual([
        'table_for_repack_created_at_idx', 'table_for_repack_excluded_excl', 'table_for_repack_name_key',
        'table_for_repack_pkey', 'table_for_repack_value_idx',
      ]);
      const constraints = await sql.query(
        `SELECT conname, contype::text FROM pg_constraint WHERE conrelid = 'table_for_repack'::regclass AND contype <> 'n' ORDER BY 1`,
      );
      expect(constraints.rows).toEqual([
        { conname: 'table_for_repack_excluded_excl', contype: 'x' },
        { conname: 'table_for_repack_name_key', contype: 'u' },
        { conname: 'table_for_repack_pkey', contype: 'p' },
        { conname: 'table_for_repack_value_check', contype: 'c' },
      ]);
      const owned = await sql.query(`SELECT pg_get_serial_sequence('table_for_repack', 'id') AS seq`);
      expect(owned.rows[0].seq).toBe('public.table_for_repack_id_seq');
      // The sequence kept its value: a new row gets an id above every existing one.
      const next = await sql.query(
        `INSERT INTO table_for_repack (name, value, excluded) VALUES ('after', 1, -1) RETURNING id, (SELECT max(id) FROM table_for_repack WHERE id < 60000) AS max_before`,
      );
      expect(next.rows[0].id).toBeGreaterThan(next.rows[0].max_before);
      const state = await sql.query(`SELECT status, phase, size_after IS NOT NULL AS sized FROM rpcl.runs ORDER BY run_id DESC LIMIT 1`);
      expect(state.rows[0]).toEqual({ status: 'done', phase: 'done', sized: true });
    });
  }

  it('is as compact as VACUUM FULL, and a writer role with only DML grants writes throughout', async () => {
    await freshSeed(40000);
    await sql.query(`DROP ROLE IF EXISTS "dml writer"`);
    await sql.query(`CREATE ROLE "dml writer" LOGIN PASSWORD 'w-pass'`);
    await sql.query(`GRANT INSERT, UPDATE, DELETE ON table_for_repack TO "dml writer"`);
    await sql.query(`GRANT SELECT (id) ON table_for_repack TO "dml writer"`);
    await sql.query(`GRANT USAGE ON SEQUENCE table_for_repack_id_seq TO "dml writer"`);
    const writer = await writerClient({ name: 'dml writer', password: 'w-pass' });
    let running = true;
    let writes = 0;
    const errors: string[] = [];
    const loop = (async () => {
      for (let i = 0; running; i++) {
        try {
          await writer.query(`INSERT INTO table_for_repack (name, value, excluded) VALUES ($1, 1, $2)`, [`dml${i}`, -1000 - i]);
          await writer.query(`UPDATE table_for_repack SET value = 7 WHERE id = $1`, [1 + 2 * (i % 1000)]);
          writes++;
        } catch (err) {
          errors.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const home = makeHome();
    writeConfig(home, 'default', config());
    const run = await runCli(['repack_tables'], { home });
    running = false;
    await loop;
    await writer.end();
    expect(run.code).toBe(0);
    expect(errors).toEqual([]);
    expect(writes).toBeGreaterThan(20);
    const grants = await sql.query(
      `SELECT privilege_type FROM information_schema.role_table_grants WHERE grantee = 'dml writer' AND table_name = 'table_for_repack' ORDER BY 1`,
    );
    expect(grants.rows.map((r) => r.privilege_type)).toEqual(['DELETE', 'INSERT', 'UPDATE']);

    const after = await sql.query(`SELECT pg_total_relation_size('table_for_repack')::int8 AS n`);
    await sql.query(`VACUUM FULL table_for_repack`);
    const vacuumFull = await sql.query(`SELECT pg_total_relation_size('table_for_repack')::int8 AS n`);
    expect(Number(after.rows[0].n)).toBeLessThanOrEqual(Number(vacuumFull.rows[0].n) * 1.05);
    await sql.query(`DROP OWNED BY "dml writer"; DROP ROLE "dml writer"`);
  });
});
