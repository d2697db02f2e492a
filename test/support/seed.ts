/** The seed example of the engine issue, loaded with bloat, and a config that targets it. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from './cli.js';
import type { TestDatabase } from './db.js';

export async function loadSeed(sql: pg.Client, rows: number): Promise<void> {
  await sql.query(`DROP SCHEMA IF EXISTS rpcl CASCADE; DROP SCHEMA public CASCADE; CREATE SCHEMA public; GRANT ALL ON SCHEMA public TO PUBLIC`);
  await sql.query(readFileSync(join(projectRoot, 'sql', 'seed_example.sql'), 'utf8'));
  await sql.query(
    `INSERT INTO table_for_repack (name, value, excluded, created_at)
     SELECT 'n' || g, g % 1000, g, now() - g * interval '1 second' FROM generate_series(1, $1) g`,
    [rows],
  );
  await sql.query(`INSERT INTO table_with_fk (tfr_id, note) SELECT id, repeat('x', 20) FROM table_for_repack WHERE id % 10 = 0`);
  // Bloat: half of the rows go away.
  await sql.query(`DELETE FROM table_for_repack WHERE id % 2 = 0`);
  await sql.query(`INSERT INTO control_for_repack SELECT id, name, value, excluded, created_at FROM table_for_repack`);
  await sql.query(`ANALYZE`);
}

export function connectionConfig(db: TestDatabase, lines: string[]): string {
  return [
    '[connections.seed]',
    `host = "${db.host}"`, `port = ${db.port}`, `user = "${db.user}"`, `password = "${db.password}"`,
    `database = "${db.database}"`, 'sslmode = "disable"',
    ...lines,
  ].join('\n');
}

export async function sessionAs(
  db: TestDatabase,
  applicationName: string,
  user?: { name: string; password: string },
): Promise<pg.Client> {
  const c = new pg.Client({
    host: db.host, port: db.port, database: db.database,
    user: user?.name ?? db.user, password: user?.password ?? db.password,
    application_name: applicationName,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export async function tableOid(sql: pg.Client, name: string): Promise<number> {
  const { rows } = await sql.query(`SELECT $1::regclass::oid::int8 AS oid`, [name]);
  return Number(rows[0].oid);
}
