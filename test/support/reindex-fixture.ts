/**
 * The table repack_indexes tests work on (a table whose indexes are ~90% empty after a mass
 * delete, and its control copy), writers that mirror their changes into the control table,
 * and the cleanup after each test: the rpcl run, the writers and extra sessions are ended even
 * when a test fails. Shared by repack-indexes*.test.ts.
 */
import type pg from 'pg';
import { afterEach, expect } from 'vitest';
import { makeHome, spawnCli, writeConfig, type RunningCli } from './cli.js';
import { type TestDatabase, useTestDatabase } from './db.js';
import { connectionConfig, sessionAs } from './seed.js';

export const T = '"Idx Schema"."Mixed Case"';
export const CONTROL = 'ctl.mirror';
export const QIDX = '"Idx Schema"."with""quote"';
export const PKEY = '"Idx Schema"."Mixed Case_pkey"';

/** Writers that change the table and mirror each change into the control table in the same transaction. */
export class Writers {
  private running = true;
  private loops: Promise<void>[] = [];
  commits = 0;
  worstMs = 0;
  errors: string[] = [];
  constructor(private readonly clients: pg.Client[]) {
    this.loops = clients.map((c, i) => this.loop(c, i));
  }
  private async loop(c: pg.Client, n: number): Promise<void> {
    let k = n;
    while (this.running) {
      k += 7;
      const id = ((k * 104729) % 200_000) + 1;
      const t = performance.now();
      try {
        await c.query('BEGIN');
        if (k % 3 === 0) {
          await c.query(`DELETE FROM ${T} WHERE id = $1`, [id]);
          await c.query(`DELETE FROM ${CONTROL} WHERE id = $1`, [id]);
        } else {
          for (const table of [T, CONTROL]) {
            await c.query(
              `INSERT INTO ${table} AS x VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET "with""quote" = x."with""quote" + 1, payload = 'u'`,
              [id, k, `w${k}`],
            );
          }
        }
        await c.query('COMMIT');
        this.commits++;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        if ((err as { code?: string }).code !== '40P01') this.errors.push(`${(err as { code?: string }).code} ${(err as Error).message}`);
      }
      this.worstMs = Math.max(this.worstMs, performance.now() - t);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    await Promise.all(this.clients.map((c) => c.end().catch(() => undefined)));
  }
}

export class ReindexFixture {
  db!: TestDatabase;
  sql!: pg.Client;
  /** The rpcl run in progress, killed after the test if it is still there. */
  running: RunningCli | undefined;
  private writers: Writers | undefined;
  private extra: pg.Client[] = [];

  /** A table whose two indexes are ~90% empty pages after a mass delete and VACUUM, and its control copy. */
  async freshTable(rows = 200_000): Promise<void> {
    await this.sql.query(`DROP SCHEMA IF EXISTS rpcl CASCADE; DROP SCHEMA IF EXISTS "Idx Schema" CASCADE; DROP SCHEMA IF EXISTS ctl CASCADE`);
    await this.sql.query(`CREATE SCHEMA "Idx Schema"; CREATE SCHEMA ctl`);
    await this.sql.query(`CREATE TABLE ${T} (id int PRIMARY KEY, "with""quote" int NOT NULL, payload text)`);
    await this.sql.query(`CREATE INDEX "with""quote" ON ${T} ("with""quote")`);
    await this.sql.query(`COMMENT ON INDEX ${QIDX} IS 'kept by the rebuild'`);
    await this.sql.query(`CREATE TABLE ${CONTROL} (id int PRIMARY KEY, "with""quote" int NOT NULL, payload text)`);
    await this.sql.query(`INSERT INTO ${T} SELECT g, (g::int8 * 7919) % 1000003, 'p' || g FROM generate_series(1, $1) g`, [rows]);
    await this.sql.query(`DELETE FROM ${T} WHERE id % 10 <> 0`);
    await this.sql.query(`VACUUM ANALYZE ${T}`);
    await this.sql.query(`INSERT INTO ${CONTROL} SELECT * FROM ${T}`);
  }

  async size(index: string): Promise<number> {
    const { rows } = await this.sql.query(`SELECT pg_relation_size(to_regclass($1))::int8 AS n`, [index]);
    return Number(rows[0].n);
  }

  async checksum(table: string): Promise<string> {
    const { rows } = await this.sql.query(`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '') AS s FROM ${table} t`);
    return rows[0].s;
  }

  async startWriters(n = 3): Promise<Writers> {
    this.writers = new Writers(await Promise.all(Array.from({ length: n }, () => sessionAs(this.db, 'writer'))));
    return this.writers;
  }

  /** Stops the writers now (they are stopped after the test otherwise). */
  async stopWriters(): Promise<void> {
    await this.writers?.stop();
    this.writers = undefined;
  }

  /**
   * An open writer transaction on the table, and a repack_indexes of QIDX (lock_timeout 60 s)
   * that waits for it once its new index exists; returns the writer, the config's HOME and the run.
   */
  async rebuildWaitingForAWriter(): Promise<{ holder: pg.Client; home: string; run: RunningCli }> {
    const holder = await this.session('holder');
    await holder.query(`BEGIN; UPDATE ${T} SET payload = 'held' WHERE id = 10`);
    const home = this.config(['lock_timeout = "60s"']);
    const run = spawnCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    this.running = run;
    const waiting = async () =>
      (await this.sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rpcl reindex' AND wait_event_type = 'Lock'`)).rows.length > 0;
    for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await waiting()).toBe(true);
    return { holder, home, run };
  }

  /** A session closed after the test. */
  async session(name: string): Promise<pg.Client> {
    const c = await sessionAs(this.db, name);
    this.extra.push(c);
    return c;
  }

  /** A fresh HOME whose default config selects the schema, with these extra lines. */
  config(lines: string[]): string {
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(this.db, ['schemas = ["Idx Schema"]', ...lines]));
    return home;
  }

  async invalidIndexes(): Promise<string[]> {
    const { rows } = await this.sql.query(
      `SELECT c.oid::regclass::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  }

  async cleanup(): Promise<void> {
    this.running?.kill('SIGKILL');
    this.running = undefined;
    await this.writers?.stop();
    this.writers = undefined;
    await Promise.all(this.extra.map((c) => c.end().catch(() => undefined)));
    this.extra = [];
    await this.sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'rpcl%'`);
  }
}

/** A database for the test file, and the fixture's cleanup after each test. */
export function useReindexFixture(prefix: string): ReindexFixture {
  const fx = new ReindexFixture();
  useTestDatabase(prefix, (d, s) => {
    fx.db = d;
    fx.sql = s;
  });
  afterEach(() => fx.cleanup());
  return fx;
}
