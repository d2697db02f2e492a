/** Per-file databases on the shared test server, and admin sessions on them. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';

export interface TestDatabase {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  major: number;
  /** A new session as the superuser on this database; closed by drop(). */
  client(): Promise<pg.Client>;
  drop(): Promise<void>;
}

export function serverInfo() {
  return inject('pgServer');
}

export async function adminClient(database = 'postgres'): Promise<pg.Client> {
  const s = serverInfo();
  const client = new pg.Client({ host: s.host, port: s.port, user: s.user, password: s.password, database });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const s = serverInfo();
  const database = `${prefix}_${randomBytes(4).toString('hex')}`.toLowerCase();
  const admin = await adminClient();
  await admin.query(`CREATE DATABASE "${database}"`);
  await admin.end();
  const opened: pg.Client[] = [];
  return {
    ...s,
    database,
    async client() {
      const c = await adminClient(database);
      opened.push(c);
      return c;
    },
    async drop() {
      await Promise.all(opened.map((c) => c.end().catch(() => undefined)));
      const a = await adminClient();
      await a.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await a.end();
    },
  };
}

/**
 * The usual file setup: a database of its own for the test file and an admin session on it,
 * handed over through `use` before the tests run; dropped after them.
 */
export function useTestDatabase(prefix: string, use: (db: TestDatabase, sql: pg.Client) => void | Promise<void>): void {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase(prefix);
    await use(db, await db.client());
  });
  afterAll(async () => {
    await db?.drop();
  });
}
