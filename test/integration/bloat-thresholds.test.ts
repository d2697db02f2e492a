/**
 * min_bloat_ratio / min_bloat_bytes: a schema-wide run repacks only the tables worth it and
 * prints one line per skipped table with its figures; a table named in `tables` is repacked
 * regardless (its log line says it is below); --dry-run shows the figures and changes nothing.
 * The repack runs while an application writes to the bloated table, mirrored into a control.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, sessionAs, tableOid } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('thresholds', async (d, s) => {
  db = d;
  sql = s;
  await s.query(`
    DROP SCHEMA IF EXISTS rpcl CASCADE;
    CREATE SCHEMA "Thr Sch"; CREATE SCHEMA other; CREATE SCHEMA ctl;
    CREATE TABLE "Thr Sch"."Bloated" (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
    INSERT INTO "Thr Sch"."Bloated" SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 30000) g;
    DELETE FROM "Thr Sch"."Bloated" WHERE id % 4 <> 0;
    CREATE TABLE ctl.bloated_control (id int PRIMARY KEY, v text);
    INSERT INTO ctl.bloated_control SELECT * FROM "Thr Sch"."Bloated";
    CREATE TABLE "Thr Sch"."with""quote" (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
    INSERT INTO "Thr Sch"."with""quote" SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 30000) g;
    CREATE TABLE other."Fresh One" (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
    INSERT INTO other."Fresh One" SELECT g, 'v' || g FROM generate_series(1, 5000) g;
    CREATE TABLE other.parted (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
    CREATE TABLE other.parted_bloated PARTITION OF other.parted FOR VALUES FROM (0) TO (100000) WITH (autovacuum_enabled = off);
    CREATE TABLE other.parted_fresh PARTITION OF other.parted FOR VALUES FROM (100000) TO (200000) WITH (autovacuum_enabled = off);
    INSERT INTO other.parted SELECT g, repeat(md5(g::text), 2) FROM generate_series(1, 20000) g;
    INSERT INTO other.parted SELECT g, repeat(md5(g::text), 2) FROM generate_series(100000, 120000) g;
    DELETE FROM other.parted WHERE id < 100000 AND id % 4 <> 0;
    ANALYZE`);
});

const thresholds = (home: string) =>
  writeConfig(home, 'default', connectionConfig(db, [
    'schemas = ["Thr Sch"]', 'tables = ["other.\\"Fresh One\\""]', 'min_bloat_ratio = "20%"', 'min_bloat_bytes = "100kB"',
    'lock_timeout = "1s"', 'check_time = 1',
  ]));

async function catalog(): Promise<string> {
  const { rows } = await sql.query(`SELECT md5(string_agg(x, ',' ORDER BY x)) AS m FROM (
    SELECT 'c' || oid || relname || relfilenode || relkind::text AS x FROM pg_class
    UNION ALL SELECT 't' || oid || tgname FROM pg_trigger
    UNION ALL SELECT 'n' || oid || nspname FROM pg_namespace) s`);
  return rows[0].m;
}

async function checksum(table: string): Promise<string> {
  return (await sql.query(`SELECT count(*) || ':' || coalesce(md5(string_agg(id || '=' || v, ',' ORDER BY id)), '') AS s FROM ${table}`)).rows[0].s;
}

/** Dual writes: every transaction changes the table and its control the same way. */
function writer(c: pg.Client) {
  let running = true;
  const errors: string[] = [];
  let commits = 0;
  let next = 100_000;
  const loop = (async () => {
    while (running) {
      const id = 4 * (1 + Math.floor(Math.random() * 7500));
      try {
        await c.query('BEGIN');
        await c.query(`UPDATE "Thr Sch"."Bloated" SET v = v || 'u' WHERE id = $1`, [id]);
        await c.query(`UPDATE ctl.bloated_control SET v = v || 'u' WHERE id = $1`, [id]);
        const n = next++;
        await c.query(`INSERT INTO "Thr Sch"."Bloated" VALUES ($1, 'new')`, [n]);
        await c.query(`INSERT INTO ctl.bloated_control VALUES ($1, 'new')`, [n]);
        await c.query('COMMIT');
        commits++;
      } catch (err) {
        errors.push((err as Error).message);
        await c.query('ROLLBACK').catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  return { stop: async () => { running = false; await loop; return { commits, errors }; } };
}

describe('bloat thresholds', () => {
  it('--dry-run shows the figures of every table, selected and skipped, and changes nothing', async () => {
    const before = await catalog();
    const home = makeHome();
    thresholds(home);
    const r = await runCli(['repack_tables', '--dry-run'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ bloat thresholds: min_bloat_ratio 0\.2, min_bloat_bytes 102400; the estimate read \d+ pages/);
    expect(r.stdout).toMatch(
      /-\. "Thr Sch"\."with""quote": skipped, below the bloat thresholds \([^)]*< min_bloat_ratio 20\.0%[^)]*\): [\d.]+ (B|kB) of [\d.]+ (kB|MB) reclaimable \(\d+\.\d%\)/,
    );
    expect(r.stdout).toMatch(/note: other\."Fresh One": below the bloat thresholds \(.*\) but named in tables, so repacked: .* reclaimable/);
    expect(r.stdout).toMatch(/1\. "Thr Sch"\."Bloated": .*\n {3}bloat \(sample\) {3}[\d.]+ (kB|MB) of [\d.]+ (kB|MB) reclaimable \((\d+)\.\d%\); page sample: heap all \d+ pages/);
    expect(r.stdout).toMatch(/2\. other\."Fresh One": /);
    expect(r.stdout).not.toMatch(/\d\. "Thr Sch"\."with""quote": /);
    expect(await catalog()).toBe(before);
  });

  it("applies the thresholds to a named partitioned table's leaves (only a table named itself escapes them)", async () => {
    const before = await catalog();
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, ['tables = ["other.parted"]', 'min_bloat_ratio = 0.2']));
    const r = await runCli(['repack_tables', '--dry-run'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/-\. other\.parted_fresh: skipped, below the bloat thresholds \(\d+\.\d% < min_bloat_ratio 20\.0%\): .* reclaimable/);
    expect(r.stdout).toMatch(/1\. other\.parted_bloated: /);
    expect(r.stdout).not.toMatch(/\d\. other\.parted_fresh: /);
    expect(r.stdout).not.toMatch(/note: /);
    expect(await catalog()).toBe(before);
  });

  it('repacks only what passes under writers, prints the skipped table with its figures, repacks the named one regardless', async () => {
    const oids = {
      bloated: await tableOid(sql, '"Thr Sch"."Bloated"'),
      quote: await tableOid(sql, '"Thr Sch"."with""quote"'),
      named: await tableOid(sql, 'other."Fresh One"'),
    };
    const home = makeHome();
    thresholds(home);
    const app = await sessionAs(db, 'app writer');
    const w = writer(app);
    let r;
    try {
      r = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:300' } });
    } finally {
      const stats = await w.stop();
      await app.end();
      expect(stats.errors).toEqual([]);
      expect(stats.commits).toBeGreaterThan(0);
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^seed: "Thr Sch"\."with""quote": skipped, below the bloat thresholds \([^)]*\): [\d.]+ (B|kB) of [\d.]+ (kB|MB) reclaimable \(\d+\.\d%\)$/m,
    );
    expect(r.stderr).toMatch(/"Thr Sch"\."with""quote": skipped, below the bloat thresholds/);
    expect(r.stderr).toMatch(/other\."Fresh One": below the bloat thresholds \(.*\) but named in tables, so repacked/);
    expect(r.stderr).toMatch(/2 tables selected, largest estimated bloat first \(bloat estimate: \d+ pages read; 1 table skipped below min_bloat_ratio 0\.2, min_bloat_bytes 102400\)/);
    // Repacked tables get the copy's OID (rename swap); the skipped one keeps its own.
    expect(await tableOid(sql, '"Thr Sch"."with""quote"')).toBe(oids.quote);
    expect(await tableOid(sql, '"Thr Sch"."Bloated"')).not.toBe(oids.bloated);
    expect(await tableOid(sql, 'other."Fresh One"')).not.toBe(oids.named);
    expect(await checksum('"Thr Sch"."Bloated"')).toBe(await checksum('ctl.bloated_control'));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});
