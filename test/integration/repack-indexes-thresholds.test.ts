/**
 * repack_indexes with min_bloat_ratio / min_bloat_bytes (issue 13): the same sampled estimate
 * as show_bloat decides per index. A bloated btree index is rebuilt, a dense one and a GIN
 * index (whose bloat is not estimated) are skipped with a line giving the figures or the
 * reason, and an index named with --index is rebuilt whatever its figures.
 */
import type pg from 'pg';
import { expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('idxthr', async (d, s) => {
  db = d;
  sql = s;
});

const T = '"Thr Schema"."select"';

async function relfilenodes(): Promise<Record<string, number>> {
  const { rows } = await sql.query(
    `SELECT c.relname, c.relfilenode::int8 AS node FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass`,
    [T],
  );
  return Object.fromEntries(rows.map((r) => [r.relname, Number(r.node)]));
}

it('rebuilds only the indexes past the thresholds, prints the skipped ones with their figures, and rebuilds a named one regardless', async () => {
  await sql.query(`CREATE SCHEMA "Thr Schema"`);
  await sql.query(`CREATE TABLE ${T} (id int PRIMARY KEY, "Tag" int NOT NULL, words text[] NOT NULL)`);
  await sql.query(`INSERT INTO ${T} SELECT g, g % 5000, ARRAY['w' || (g % 97)] FROM generate_series(1, 200000) g`);
  // The primary key is left with about a third of its entries; the other two are built after
  // the delete, hence dense.
  await sql.query(`DELETE FROM ${T} WHERE id % 3 <> 0`);
  await sql.query(`VACUUM ANALYZE ${T}`);
  await sql.query(`CREATE INDEX "Tag idx" ON ${T} ("Tag")`);
  await sql.query(`CREATE INDEX words_gin ON ${T} USING gin (words)`);
  await sql.query(`ANALYZE ${T}`);
  const before = await relfilenodes();
  const home = makeHome();
  writeConfig(home, 'default', connectionConfig(db, [`schemas = ["Thr Schema"]`, 'min_bloat_ratio = "30%"', 'min_bloat_bytes = "64kB"']));

  const run = await runCli(['repack_indexes', '--debug'], { home });
  const output = run.stdout + run.stderr;
  expect(run.code, output).toBe(0);
  const after = await relfilenodes();
  expect(after.select_pkey, 'the bloated primary key is rebuilt').not.toBe(before.select_pkey);
  expect(after['Tag idx'], 'the dense index is left alone').toBe(before['Tag idx']);
  expect(after.words_gin, 'the GIN index is left alone').toBe(before.words_gin);
  expect(output).toMatch(/"Thr Schema"\."Tag idx".*estimated bloat [\d.]+ MiB of [\d.]+ MiB \(ratio 0\.\d\d\): below min_bloat_ratio 0\.3/);
  expect(output).toMatch(/"Thr Schema"\.words_gin.*bloat not estimated \(unknown: gin index[^)]*\): below the thresholds unless named/);

  // --dry-run shows the same choice and changes nothing.
  const dry = await runCli(['repack_indexes', '--dry-run'], { home });
  expect(dry.code, dry.stdout + dry.stderr).toBe(0);
  expect(dry.stdout).toMatch(/skip index "Thr Schema"\."Tag idx": estimated bloat/);
  expect(await relfilenodes()).toEqual(after);

  // Named, the dense index is rebuilt all the same.
  const named = await runCli(['repack_indexes', '--debug', '--index', '"Thr Schema"."Tag idx"'], { home });
  expect(named.code, named.stdout + named.stderr).toBe(0);
  const last = await relfilenodes();
  expect(last['Tag idx']).not.toBe(after['Tag idx']);
  expect(last.select_pkey).toBe(after.select_pkey);
  expect(await rpclLeftovers(sql)).toEqual([]);
});
