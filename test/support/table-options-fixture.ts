/**
 * What the table_options integration tests share: a database per test, the writers, the
 * config, and the physical-order and storage readings, with everything undone after each test.
 */
import type pg from 'pg';
import { afterEach } from 'vitest';
import { createTestDatabase, type TestDatabase } from './db.js';
import { OptionsWorkload } from './options-workload.js';
import { connectionConfig } from './seed.js';

export const ROWS = 20_000;
let cleanups: (() => Promise<void>)[] = [];

/** Runs after each test of the calling file what its helpers started, in reverse order. */
export function cleanUpAfterEach(): void {
  afterEach(async () => {
    // Writers first (a failed test must not leave them running), then databases and tablespaces.
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups = [];
  });
}

/** Something to undo after everything else of the test, its databases included (a tablespace, a role). */
export function onCleanupLast(c: () => Promise<void>): void {
  cleanups.unshift(c);
}

export async function database(prefix: string): Promise<{ db: TestDatabase; sql: pg.Client }> {
  const db = await createTestDatabase(prefix);
  cleanups.push(() => db.drop());
  return { db, sql: await db.client() };
}

export async function writers(db: TestDatabase, o: Parameters<typeof OptionsWorkload.start>[1]): Promise<OptionsWorkload> {
  const w = await OptionsWorkload.start(db, o);
  cleanups.push(async () => void (await w.stop()));
  return w;
}

export function config(db: TestDatabase, lines: string[], sections: string): string {
  return `${connectionConfig(db, ['lock_timeout = "1s"', 'check_time = 1', ...lines])}\n${sections}\n`;
}

export async function correlation(sql: pg.Client, schema: string, table: string, column: string): Promise<number> {
  await sql.query(`ANALYZE "${schema}"."${table}"`);
  const { rows } = await sql.query(`SELECT correlation FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3`, [schema, table, column]);
  return Number(rows[0].correlation);
}

/** Every row's order value is at least the one of the row physically before it. */
export async function physicallyOrdered(sql: pg.Client, table: string): Promise<boolean> {
  const { rows } = await sql.query(
    `SELECT coalesce(bool_and(ok), true) AS ok FROM (SELECT "Placed At" >= lag("Placed At") OVER (ORDER BY ctid) AS ok FROM ${table}) s WHERE ok IS NOT NULL`,
  );
  return rows[0].ok;
}

export async function relfilenode(sql: pg.Client, table: string): Promise<string> {
  return (await sql.query(`SELECT relfilenode::text AS f FROM pg_class WHERE oid = $1::regclass`, [table])).rows[0].f;
}
