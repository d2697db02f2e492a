/**
 * `show_bloat`: the figures against a table with known bloat (the truth: what VACUUM FULL gives
 * back), the JSON shape, refused tables with their reason, and nothing created or changed in
 * the database, while an application writes.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, sessionAs } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;
const OWNER = { name: 'bloat_owner', password: 'bloat-pass' };

useTestDatabase('showbloat', async (d, s) => {
  db = d;
  sql = s;
  await s.query(`DO $$ BEGIN CREATE ROLE bloat_owner LOGIN PASSWORD 'bloat-pass'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await s.query(`
    DROP SCHEMA IF EXISTS rpcl CASCADE;
    CREATE SCHEMA "Bloat Sch";
    CREATE TABLE "Bloat Sch"."Mixed Case" (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off, toast_tuple_target = 4080);
    INSERT INTO "Bloat Sch"."Mixed Case" SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 20000) g;
    DELETE FROM "Bloat Sch"."Mixed Case" WHERE id % 4 <> 0;
    CREATE INDEX "Expr ""Idx""" ON "Bloat Sch"."Mixed Case" (lower(v), "id") WHERE id > 100;
    CREATE TABLE "Bloat Sch"."with""quote" (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
    INSERT INTO "Bloat Sch"."with""quote" SELECT g, 'row ' || g FROM generate_series(1, 5000) g;
    CREATE TABLE "Bloat Sch"."select" (id int PRIMARY KEY, v text);
    INSERT INTO "Bloat Sch"."select" SELECT g, 'secret ' || g FROM generate_series(1, 3000) g;
    DELETE FROM "Bloat Sch"."select" WHERE id % 3 = 0;
    ALTER TABLE "Bloat Sch"."select" ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
    CREATE POLICY only_some ON "Bloat Sch"."select" USING (id < 100);
    CREATE FUNCTION public.secret_fn(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT upper($1)';
    REVOKE EXECUTE ON FUNCTION public.secret_fn(text) FROM PUBLIC;
    CREATE TABLE "Bloat Sch".guarded (id int PRIMARY KEY, v text);
    INSERT INTO "Bloat Sch".guarded SELECT g, 'g' || g FROM generate_series(1, 2000) g;
    CREATE INDEX guarded_secret ON "Bloat Sch".guarded (public.secret_fn(v));
    ALTER TABLE "Bloat Sch".guarded OWNER TO bloat_owner;
    CREATE TABLE "Bloat Sch".no_key (a int);
    INSERT INTO "Bloat Sch".no_key SELECT g FROM generate_series(1, 1000) g;
    GRANT USAGE, CREATE ON SCHEMA "Bloat Sch" TO bloat_owner;
    ALTER TABLE "Bloat Sch"."Mixed Case" OWNER TO bloat_owner;
    ALTER TABLE "Bloat Sch"."with""quote" OWNER TO bloat_owner;
    ALTER TABLE "Bloat Sch"."select" OWNER TO bloat_owner;
    ALTER TABLE "Bloat Sch".no_key OWNER TO bloat_owner;
    ANALYZE "Bloat Sch"."Mixed Case", "Bloat Sch"."with""quote", "Bloat Sch"."select", "Bloat Sch".no_key, "Bloat Sch".guarded`);
  // The cumulative statistics (dead tuples, the fallback's figures) reach pg_stat_* shortly after.
  for (let i = 0; i < 50; i++) {
    const r = await s.query(`SELECT n_dead_tup FROM pg_stat_all_tables WHERE relid = '"Bloat Sch"."select"'::regclass`);
    if (Number(r.rows[0]?.n_dead_tup ?? 0) > 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
});

async function catalog(): Promise<string> {
  const { rows } = await sql.query(`SELECT md5(string_agg(x, ',' ORDER BY x)) AS m FROM (
    SELECT 'c' || oid || relname || relfilenode || relkind::text || coalesce(reloptions::text, '') AS x FROM pg_class
    UNION ALL SELECT 't' || oid || tgname FROM pg_trigger
    UNION ALL SELECT 'n' || oid || nspname FROM pg_namespace
    UNION ALL SELECT 'p' || oid || proname FROM pg_proc
    UNION ALL SELECT 'e' || oid || extname FROM pg_extension
    UNION ALL SELECT 'k' || oid || conname || convalidated FROM pg_constraint) s`);
  return rows[0].m;
}

/** An application writing to one of the tables while show_bloat reads: it must see no error. */
function writer(c: pg.Client): { stop: () => Promise<{ commits: number; errors: string[] }> } {
  let running = true;
  const errors: string[] = [];
  let commits = 0;
  const loop = (async () => {
    // Paced and capped: the bloat it adds (dead versions) must not depend on how long the
    // reports take on a busy machine (at most 400 of 5000 rows, well under the bound below).
    while (running) {
      if (commits >= 400) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      try {
        await c.query(`UPDATE "Bloat Sch"."with""quote" SET v = v WHERE id = $1`, [1 + Math.floor(Math.random() * 5000)]);
        commits++;
      } catch (err) {
        errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { commits, errors };
    },
  };
}

const config = (home: string) =>
  writeConfig(home, 'default', connectionConfig({ ...db, user: OWNER.name, password: OWNER.password }, ['schemas = ["Bloat Sch"]']));

describe('show_bloat', () => {
  it('reports every selected table with figures close to the truth, refusals with their reason, and changes nothing', async () => {
    const before = await catalog();
    const home = makeHome();
    config(home);
    const app = await sessionAs(db, 'app writer');
    const w = writer(app);
    let json;
    let text;
    try {
      json = await runCli(['show_bloat', '--json'], { home });
      text = await runCli(['show_bloat'], { home });
    } finally {
      const stats = await w.stop();
      await app.end();
      expect(stats.errors).toEqual([]);
      expect(stats.commits).toBeGreaterThan(0);
    }
    expect(json.code, json.stderr).toBe(0);
    expect(text.code, text.stderr).toBe(0);
    expect(await catalog()).toBe(before);
    expect((await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rpcl'`)).rowCount).toBe(0);
    expect(await rpclLeftovers(sql)).toEqual([]);

    const [report] = JSON.parse(json.stdout);
    expect(Object.keys(report).sort()).toEqual(['connection', 'min_bloat_bytes', 'min_bloat_ratio', 'missing', 'pages_read', 'tables']);
    expect(report.connection).toBe('seed');
    const byName = new Map<string, Record<string, unknown>>(report.tables.map((t: { table: string }) => [t.table, t]));
    expect([...byName.keys()].sort()).toEqual(['"Bloat Sch"."Mixed Case"', '"Bloat Sch"."with""quote"', '"Bloat Sch".guarded', '"Bloat Sch".no_key', '"Bloat Sch".select']);
    // Largest reclaimable first.
    expect(report.tables[0].table).toBe('"Bloat Sch"."Mixed Case"');
    const mixed = byName.get('"Bloat Sch"."Mixed Case"')!;
    expect(Object.keys(mixed).sort()).toEqual([
      'below_threshold', 'dead_tuples', 'heap_bytes', 'index_bytes', 'index_reclaimable_bytes', 'indexes', 'last_autovacuum', 'last_vacuum',
      'live_tuples', 'method', 'oid', 'pages_read', 'ratio', 'reclaimable_bytes', 'refusal', 'repackable', 'table', 'table_reclaimable_bytes',
      'threshold', 'toast_bytes', 'total_bytes',
    ]);
    expect(mixed).toMatchObject({ repackable: true, refusal: null, threshold: 'pass', method: expect.stringMatching(/^page sample: heap all \d+ pages/) });
    expect(mixed.dead_tuples).toBeGreaterThan(10000);
    expect(mixed.pages_read).toBe(Math.floor((mixed.heap_bytes as number) / 8192));
    expect(mixed.indexes).toEqual([
      expect.objectContaining({ index: 'Expr "Idx"', method: expect.stringMatching(/^btree key sample/), reclaimable_bytes: expect.any(Number) }),
      expect.objectContaining({ index: 'Mixed Case_pkey', method: expect.stringMatching(/^btree key sample/), reclaimable_bytes: expect.any(Number) }),
    ]);
    const quote = byName.get('"Bloat Sch"."with""quote"')!;
    // Only the application writer's updates (dead versions) bloat it meanwhile.
    expect(quote.ratio as number).toBeLessThan(0.25);
    expect(mixed.ratio as number).toBeGreaterThan(0.5);
    expect(quote.repackable).toBe(true);
    // FORCE ROW LEVEL SECURITY: not read by the sample (it would be filtered), statistics instead.
    const sel = byName.get('"Bloat Sch".select')!;
    expect(sel).toMatchObject({ repackable: false, pages_read: 0, refusal: expect.stringMatching(/FORCE ROW LEVEL SECURITY/) });
    expect(sel.method).toMatch(/^statistics \(dead-tuple share/);
    expect(sel.indexes).toEqual([expect.objectContaining({ index: 'select_pkey', method: expect.stringMatching(/^btree statistics/) })]);
    // An index expression this role may not execute: the table is sampled without its entries,
    // the index estimated from statistics, and the report goes on.
    const guarded = byName.get('"Bloat Sch".guarded')!;
    expect(guarded.method).toMatch(/^page sample: heap all \d+ pages/);
    expect(guarded.indexes).toEqual([
      expect.objectContaining({ index: 'guarded_pkey', method: expect.stringMatching(/^btree statistics/) }),
      expect.objectContaining({ index: 'guarded_secret', method: expect.stringMatching(/^btree statistics/) }),
    ]);
    expect(byName.get('"Bloat Sch".no_key')).toMatchObject({ repackable: false, refusal: expect.stringMatching(/no primary key/) });
    expect(report.pages_read).toBe(report.tables.reduce((a: number, t: { pages_read: number }) => a + t.pages_read, 0));

    // The text: one aligned table, the refused ones with their reason.
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(/^connection seed: 5 tables, thresholds min_bloat_ratio 0, min_bloat_bytes 0 B; the estimate read \d+ pages/);
    expect(lines[1]).toMatch(/^table \/ index +size +table bloat +index bloat +repack gives back +dead tuples +last vacuum +last autovacuum +pages read +can repack$/);
    const mixedLine = lines.find((l) => l.startsWith('"Bloat Sch"."Mixed Case" '))!;
    expect(mixedLine).toMatch(/ \d+\.\d (kB|MB) \(\d+\.\d%\) +\d+ +never +never +\d+ +yes$/);
    expect(lines.find((l) => l.startsWith('"Bloat Sch".select '))).toMatch(/no: it has FORCE ROW LEVEL SECURITY/);
    expect(lines.some((l) => /^ {2}index Mixed Case_pkey +\d/.test(l))).toBe(true);
    expect(lines.indexOf(mixedLine)).toBe(3);

    // The truth: what a rewrite really gives back, heap, TOAST and index together.
    const size = async () => Number((await sql.query(`SELECT pg_total_relation_size('"Bloat Sch"."Mixed Case"') AS b`)).rows[0].b);
    const sizeBefore = await size();
    await sql.query(`VACUUM FULL "Bloat Sch"."Mixed Case"`);
    const truth = sizeBefore - (await size());
    expect(sizeBefore).toBe(mixed.total_bytes);
    expect(Math.abs((mixed.reclaimable_bytes as number) - truth) / sizeBefore).toBeLessThan(0.05);
    expect(truth / sizeBefore).toBeGreaterThan(0.5);
  });

  it('names a listed table that does not exist and exits non-zero', async () => {
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, ['tables = ["\\"Bloat Sch\\".nowhere"]']));
    const r = await runCli(['show_bloat', '--json'], { home });
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stdout)[0].missing).toEqual([
      { table: '"Bloat Sch".nowhere', reason: expect.stringMatching(/does not exist: check the tables list/) },
    ]);
  });
});
