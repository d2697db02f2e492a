/**
 * The benchmark's plain-SQL floor must do the work it claims to: the same rows in a new table
 * with the seed table's EXCLUDE constraint and the same indexes, and the old table dropped, so
 * that its time is a fair lower bound for any plain-SQL rebuild of that table.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { FLOOR_TABLE, runFloor } from '../../src/bench/floor.js';
import { useTestDatabase, type TestDatabase } from '../support/db.js';
import { loadSeed } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;
useTestDatabase('bench_floor', async (d, s) => {
  db = d;
  sql = s;
});

/** Index definitions without the index's own name and table, in a stable order. */
async function indexShapes(table: string): Promise<string[]> {
  const r = await sql.query<{ def: string }>(
    `SELECT regexp_replace(pg_get_indexdef(indexrelid), '^CREATE (UNIQUE )?INDEX \\S+ ON \\S+ ', 'CREATE \\1INDEX ON t ') AS def
       FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`,
    [table],
  );
  return r.rows.map((x) => x.def);
}

async function checksum(table: string): Promise<{ n: string; m: string }> {
  const r = await sql.query(
    `SELECT count(*) AS n, md5(string_agg(x::text, '|' ORDER BY id)) AS m FROM (SELECT id, name, value, excluded, created_at FROM ${table}) x`,
  );
  return r.rows[0];
}

describe('bench plain-SQL floor', () => {
  it('builds a copy with the same rows, the EXCLUDE constraint and every index of the seed table', async () => {
    await loadSeed(sql, 4000);
    const [a, b] = [await db.client(), await db.client()];
    const [rows, shapes] = [await checksum('table_for_repack'), await indexShapes('table_for_repack')];
    await runFloor(a, b, true);
    expect(await checksum(FLOOR_TABLE)).toEqual(rows);
    expect(Number((await checksum(FLOOR_TABLE)).n)).toBe(2000);
    expect(await indexShapes(FLOOR_TABLE)).toEqual(shapes);
    // The old storage was freed, as every rebuild must.
    expect((await sql.query(`SELECT to_regclass('table_for_repack') AS t`)).rows[0].t).toBeNull();
    const excl = await sql.query(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'x'`,
      [FLOOR_TABLE],
    );
    expect(excl.rows.map((x) => x.def)).toEqual(['EXCLUDE USING btree (excluded WITH =)']);
    // ANALYZE ran: the planner has statistics for the copy.
    const stats = await sql.query(`SELECT count(*)::int AS n FROM pg_stats WHERE tablename = $1`, [FLOOR_TABLE]);
    expect(stats.rows[0].n).toBe(5);
  });
});
