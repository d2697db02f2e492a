/** Per-file databases on the shared test server, and admin sessions on them. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, inject } from 'vitest';

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

/**
 * A server of this file's own (same major as the shared one), for a test whose oracle is
 * server-wide, such as the WAL rate: other files' writes on the shared server would count.
 */
export function useOwnServer(prefix: string, use: (db: TestDatabase, sql: pg.Client) => void | Promise<void>): void {
  let stop: (() => Promise<void>) | undefined;
  const opened: pg.Client[] = [];
  beforeAll(async () => {
    const { startEmbeddedServer } = await import('../../src/embedded/server.js');
    const server = await startEmbeddedServer({
      major: serverInfo().major,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    stop = server.stop;
    const connectTo = async (database: string) => {
      const c = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database });
      c.on('error', () => undefined);
      await c.connect();
      opened.push(c);
      return c;
    };
    const database = `${prefix}_own`;
    const admin = await connectTo('postgres');
    await admin.query(`CREATE DATABASE "${database}"`);
    const db: TestDatabase = {
      host: server.host, port: server.port, user: server.user, password: server.password, major: server.major, database,
      client: () => connectTo(database),
      drop: async () => undefined,
    };
    await use(db, await db.client());
  });
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.end().catch(() => undefined)));
    await stop?.();
  });
}

/**
 * For files whose tests each need a database of their own with a given schema: returns a
 * `fresh(prefix, schema)` that creates one, loads the schema and ANALYZEs it; each is dropped
 * after its test.
 */
export function useFreshDatabases(): (prefix: string, schema: string) => Promise<{ db: TestDatabase; sql: pg.Client }> {
  let current: TestDatabase | undefined;
  afterEach(async () => {
    await current?.drop();
    current = undefined;
  });
  return async (prefix, schema) => {
    const db = await createTestDatabase(prefix);
    current = db;
    const sql = await db.client();
    await sql.query(schema);
    await sql.query('ANALYZE');
    return { db, sql };
  };
}
