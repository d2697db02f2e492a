/**
 * The seed example (sql/seed_example.sql) filled with `rows` rows and heavy bloat, with its
 * control copy: used by `rpcl demo` and by the benchmark.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

const sqlDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'sql');

export async function loadSeedExample(client: pg.Client, rows: number): Promise<void> {
  await client.query(readFileSync(join(sqlDir, 'seed_example.sql'), 'utf8'));
  await client.query(
    `INSERT INTO table_for_repack (name, value, excluded, created_at)
     SELECT 'n' || g, g % 1000, g, now() - g * interval '1 second' FROM generate_series(1, $1) g`,
    [rows],
  );
  await client.query(`INSERT INTO table_with_fk (tfr_id, note) SELECT id, 'fk' FROM table_for_repack WHERE id % 100 = 0`);
  // Bloat: half of the rows deleted, so half of the table is dead space.
  await client.query(`DELETE FROM table_for_repack WHERE id % 2 = 0`);
  await client.query(`INSERT INTO control_for_repack SELECT id, name, value, excluded, created_at FROM table_for_repack`);
  await client.query(`VACUUM ANALYZE table_for_repack, table_with_fk, control_for_repack`);
}

/** Whether the table holds exactly the control copy's rows (ordered checksum). */
export async function equalsControl(client: pg.Client, table = 'table_for_repack'): Promise<boolean> {
  const sum = async (t: string) =>
    (
      await client.query(
        `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY id)) AS m
         FROM (SELECT id, name, value, excluded, created_at FROM ${t}) x`,
      )
    ).rows[0];
  const [a, b] = [await sum(table), await sum('control_for_repack')];
  return a.n === b.n && a.m === b.m;
}
