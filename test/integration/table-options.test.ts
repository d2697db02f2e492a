/**
 * table_options (issue 13) against a real server, with the application writing during each run:
 * order_by (and the CLUSTER index default, and order_by = []) leaves the table physically
 * ordered, also in a chunked copy where only the key order can be kept; fillfactor and storage
 * parameters are applied to the pages and kept; a prepared copy made with other options is not
 * swapped in. Tablespaces, refusals and the dry run: table-options-checks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { catalogSnapshot, schemaDump } from '../support/catalog.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { sameRows } from '../support/options-workload.js';
import { readClusterOrder } from '../../src/inspect/table-options.js';
import { cleanUpAfterEach, config, correlation, database, physicallyOrdered, ROWS, writers } from '../support/table-options-fixture.js';

cleanUpAfterEach();

describe('order_by', () => {
  it('leaves the table physically ordered under writers: order_by, the CLUSTER index by default; order_by = [] and no index leave it as it was', async () => {
    const { db, sql } = await database('opt_order');
    const s = 'Sales Data';
    const tables = ['Orders', 'clustered', 'unordered', 'plain'];
    await sql.query(`CREATE SCHEMA "${s}"`);
    for (const [k, t] of tables.entries()) {
      // Rows stored in id order, "Placed At" a random permutation: correlation about 0 to start.
      await sql.query(`CREATE TABLE "${s}"."${t}" (id bigint PRIMARY KEY, "Placed At" bigint NOT NULL, note text)`);
      await sql.query(`INSERT INTO "${s}"."${t}" SELECT g, p, md5(g::text) FROM (SELECT g, row_number() OVER (ORDER BY random()) AS p FROM generate_series(1, ${ROWS}) g) x ORDER BY g`);
      await sql.query(`CREATE INDEX "${t} by placed" ON "${s}"."${t}" ("Placed At")`);
      if (t === 'clustered' || t === 'unordered') await sql.query(`ALTER TABLE "${s}"."${t}" CLUSTER ON "${t} by placed"`);
      await sql.query(`CREATE SEQUENCE "${s}"."${t} seq" START ${1_000_000 * (k + 1)}`);
      await sql.query(`CREATE TABLE "${s}"."${t} control" AS SELECT * FROM "${s}"."${t}"`);
      expect(Math.abs(await correlation(sql, s, t, 'Placed At'))).toBeLessThan(0.1);
    }
    const before = await catalogSnapshot(sql);
    const dumpBefore = await schemaDump(db);
    const home = makeHome();
    writeConfig(home, 'default', config(db, [`tables = [${tables.map((t) => `'"${s}"."${t}"'`).join(', ')}]`], [
      `[connections.seed.table_options.'"${s}"."Orders"']`, `order_by = ['"Placed At"']`,
      `[connections.seed.table_options.'"${s}".unordered']`, 'order_by = []',
    ].join('\n')));
    const work = await Promise.all(tables.map((t) => writers(db, {
      table: `"${s}"."${t}"`, control: `"${s}"."${t} control"`, kind: 'append', ids: ROWS, sequence: `"${s}"."${t} seq"`,
    })));
    // Each table's writers stop once its swap is done (its OID changed): they write through its
    // copy and replay, and nothing lands in space that an autovacuum of the new table frees
    // while the next tables are repacked (which would put rows out of order).
    const oids = await Promise.all(tables.map(async (t) => (await sql.query(`SELECT '"${s}"."${t}"'::regclass::oid::int8 AS o`)).rows[0].o));
    let watching = true;
    const watch = (async () => {
      const stopped = new Set<number>();
      while (watching && stopped.size < tables.length) {
        const now = await sql.query(`SELECT c.relname, c.oid::int8 AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`, [s]);
        for (const [k, t] of tables.entries()) {
          const o = now.rows.find((r) => r.relname === t)?.o;
          if (!stopped.has(k) && o !== undefined && o !== oids[k]) {
            stopped.add(k);
            void work[k]!.stop();
          }
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    // Pauses inside the copy's snapshot and before the replay: the writers' rows reach the copy by replay.
    const run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:700,replay:500' } });
    watching = false;
    await watch;
    const stats = await Promise.all(work.map((w) => w.stop()));
    expect(run.stderr).not.toMatch(/refused|failed/);
    expect(run.code).toBe(0);
    expect(stats.flatMap((x) => x.unexpected)).toEqual([]);
    expect(run.stderr).toMatch(/table options: order: "Placed At" \(order_by\)/);
    expect(run.stderr).toMatch(/table options: order: "Placed At" \(CLUSTER index "clustered by placed"\)/);
    for (const t of tables) {
      expect(await sameRows(sql, `"${s}"."${t}"`, `"${s}"."${t} control"`)).toBe(true);
      // The writers' appended rows went in during the run, through the log and the replay.
      const appended = await sql.query(`SELECT count(*)::int AS n FROM "${s}"."${t}" WHERE note = 'appended'`);
      expect(appended.rows[0].n).toBeGreaterThan(20);
    }
    const corr: Record<string, number> = {};
    for (const t of tables) corr[t] = await correlation(sql, s, t, 'Placed At');
    process.stdout.write(`correlation of "Placed At" after the repack: ${JSON.stringify(corr)}\n`);
    expect(corr.Orders).toBe(1);
    expect(corr.clustered).toBe(1);
    expect(await physicallyOrdered(sql, `"${s}"."Orders"`)).toBe(true);
    expect(await physicallyOrdered(sql, `"${s}".clustered`)).toBe(true);
    // Without an order the copy keeps the heap's order (the appended rows at its end raise the
    // correlation a little): the same test on them fails.
    expect(Math.abs(corr.unordered!)).toBeLessThan(0.5);
    expect(Math.abs(corr.plain!)).toBeLessThan(0.5);
    expect(await physicallyOrdered(sql, `"${s}".unordered`)).toBe(false);
    expect(await physicallyOrdered(sql, `"${s}".plain`)).toBe(false);
    // Only the order changed: the schema is the same, to the last line.
    expect(await catalogSnapshot(sql)).toEqual(before);
    expect(await schemaDump(db)).toEqual(dumpBefore);
    expect(await rpclLeftovers(sql)).toEqual([]);
  }, 180_000);
});

describe('the CLUSTER index order', () => {
  it('is read from the catalog only where ORDER BY on the columns gives the same order', async () => {
    const { sql } = await database('opt_cluster');
    const cases: [string, string, Awaited<ReturnType<typeof readClusterOrder>>][] = [
      ['none', '', null],
      ['"plain idx"', `CREATE INDEX "plain idx" ON t (b DESC, "Mixed Case" NULLS FIRST, a DESC NULLS LAST)`, {
        index: 'plain idx',
        items: [
          { column: 'b', descending: true, nulls: null }, { column: 'Mixed Case', descending: false, nulls: 'first' },
          { column: 'a', descending: true, nulls: 'last' },
        ],
      }],
      ['v_idx', `CREATE INDEX v_idx ON t (v) INCLUDE (a)`, { index: 'v_idx', items: [{ column: 'v', descending: false, nulls: null }] }],
      ['e_idx', `CREATE INDEX e_idx ON t (lower(v))`, { index: 'e_idx', items: { unusable: 'it indexes expressions' } }],
      ['c_idx', `CREATE INDEX c_idx ON t (v COLLATE "C")`, { index: 'c_idx', items: { unusable: 'a column of it uses another collation or operator class than the column\'s' } }],
      ['o_idx', `CREATE INDEX o_idx ON t (v text_pattern_ops)`, { index: 'o_idx', items: { unusable: 'a column of it uses another collation or operator class than the column\'s' } }],
      ['g_idx', `CREATE INDEX g_idx ON t USING gist (r)`, { index: 'g_idx', items: { unusable: 'it is a gist index, which has no order' } }],
    ];
    for (const [name, index, expected] of cases) {
      await sql.query(`DROP TABLE IF EXISTS t; CREATE TABLE t (a int, b int, "Mixed Case" text, v varchar(20), r int4range)`);
      if (index !== '') {
        await sql.query(index);
        await sql.query(`ALTER TABLE t CLUSTER ON ${name}`);
      }
      expect(await readClusterOrder(sql, Number((await sql.query(`SELECT 't'::regclass::oid::int8 AS o`)).rows[0].o)), name).toEqual(expected);
    }
  });
});

describe('copy_mode = "chunked"', () => {
  it('copies in key order: order_by on the key is kept, the CLUSTER index order is skipped with a note', async () => {
    const { db, sql } = await database('opt_chunk');
    await sql.query(`CREATE SCHEMA "Sales Data"`);
    for (const t of ['keyed', 'clustered']) {
      await sql.query(`CREATE TABLE "Sales Data".${t} (id bigint PRIMARY KEY, "Placed At" bigint NOT NULL, note text)`);
      // Stored in descending key order: a copy in key order reverses it.
      await sql.query(`INSERT INTO "Sales Data".${t} SELECT g, ${ROWS} - g, md5(g::text) FROM generate_series(1, ${ROWS}) g ORDER BY g DESC`);
      await sql.query(`CREATE INDEX ${t}_placed ON "Sales Data".${t} ("Placed At")`);
      await sql.query(`CREATE SEQUENCE "Sales Data".${t}_seq START 1000000`);
      await sql.query(`CREATE TABLE "Sales Data".${t}_control AS SELECT * FROM "Sales Data".${t}`);
    }
    await sql.query(`ALTER TABLE "Sales Data".clustered CLUSTER ON clustered_placed`);
    const home = makeHome();
    writeConfig(home, 'default', config(db, ['copy_mode = "chunked"', `tables = ['"Sales Data".keyed', '"Sales Data".clustered']`],
      `[connections.seed.table_options.'"Sales Data".keyed']\norder_by = ["id"]`));
    const work = await Promise.all(['keyed', 'clustered'].map((t) => writers(db, {
      table: `"Sales Data".${t}`, control: `"Sales Data".${t}_control`, kind: 'append', ids: ROWS, sequence: `"Sales Data".${t}_seq`,
    })));
    await new Promise((r) => setTimeout(r, 200));
    const run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:300' } });
    const stats = await Promise.all(work.map((w) => w.stop()));
    expect(run.code, run.stderr).toBe(0);
    expect(stats.flatMap((x) => x.unexpected)).toEqual([]);
    expect(run.stderr).toContain('copy_mode chunked copies in key order: the CLUSTER index clustered_placed order is not applied');
    expect(run.stderr).toContain('table options: order: id (order_by)');
    for (const t of ['keyed', 'clustered']) expect(await sameRows(sql, `"Sales Data".${t}`, `"Sales Data".${t}_control`)).toBe(true);
    // The chunks copy the rows there were in key order; the rows the writers appended during the
    // copy are replayed between chunks, wherever the heap ends at that moment.
    const ordered = async (t: string, col: string) => (await sql.query(
      `SELECT coalesce(bool_and(ok), true) AS ok FROM (SELECT ${col} >= lag(${col}) OVER (ORDER BY ctid) AS ok FROM "Sales Data".${t} WHERE id <= ${ROWS}) s
       WHERE ok IS NOT NULL`)).rows[0].ok;
    expect(await ordered('keyed', 'id')).toBe(true);
    expect(await ordered('clustered', '"Placed At"')).toBe(false);
    expect(await rpclLeftovers(sql)).toEqual([]);
  }, 120_000);
});

/** A tablespace in a temporary directory the server's OS user owns; dropped (and the directory removed) after the test. */
describe('fillfactor and storage parameters', () => {
  it('fill the new pages as asked and stay after the swap, merged with the original ones; a copy prepared with other options starts over', async () => {
    const { db, sql } = await database('opt_fill');
    const table = '"Ledger"."entries"';
    await sql.query(`CREATE SCHEMA "Ledger"`);
    await sql.query(`CREATE TABLE ${table} (id bigint PRIMARY KEY, "Placed At" bigint, note char(100)) WITH (autovacuum_analyze_scale_factor = 0.05)`);
    await sql.query(`INSERT INTO ${table} SELECT g, g, 'x' FROM generate_series(1, ${ROWS}) g`);
    await sql.query(`DELETE FROM ${table} WHERE id % 3 = 0`);
    await sql.query(`CREATE TABLE "Ledger"."control" AS SELECT * FROM ${table}`);
    // The same rows packed at fillfactor 100: the page density to compare with.
    await sql.query(`CREATE TABLE "Ledger"."packed" AS SELECT * FROM ${table}`);
    const perPage = async (t: string) => Number((await sql.query(
      `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n) AS m FROM (SELECT count(*) AS n FROM ${t} GROUP BY (ctid::text::point)[0]) p`)).rows[0].m);
    const packed = await perPage('"Ledger"."packed"');
    const before = await catalogSnapshot(sql);
    const dumpBefore = await schemaDump(db);
    const home = makeHome();
    const conf = (sections: string) => writeConfig(home, 'default', config(db, [`tables = ['"Ledger".entries']`], sections));

    conf(`[connections.seed.table_options.'"Ledger".entries']\nfillfactor = 70`);
    const prepared = await runCli(['prepare_repack', '--debug'], { home });
    expect(prepared.code, prepared.stderr).toBe(0);
    conf(`[connections.seed.table_options.'"Ledger".entries']\nfillfactor = 50\nstorage_parameters = { autovacuum_vacuum_scale_factor = 0.02 }`);
    const work = await writers(db, { table, control: '"Ledger"."control"', kind: 'update', ids: ROWS });
    await new Promise((r) => setTimeout(r, 200));
    const run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:500,replay:300' } });
    const stats = await work.stop();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('the kept prepared copy was made with other table_options (order, tablespace or storage parameters): starting over');
    expect(stats.unexpected).toEqual([]);
    expect(stats.commits).toBeGreaterThan(10);
    expect(await sameRows(sql, table, '"Ledger"."control"')).toBe(true);
    const { rows } = await sql.query(`SELECT array(SELECT unnest(reloptions) ORDER BY 1) AS o FROM pg_class WHERE oid = $1::regclass`, [table]);
    expect(rows[0].o).toEqual(['autovacuum_analyze_scale_factor=0.05', 'autovacuum_vacuum_scale_factor=0.02', 'fillfactor=50']);
    // Half-full pages: at fillfactor 50 a page takes about half the rows a packed page does.
    const filled = await perPage(table);
    process.stdout.write(`rows per page: ${packed} packed, ${filled} after the repack at fillfactor 50\n`);
    expect(filled / packed).toBeGreaterThan(0.4);
    expect(filled / packed).toBeLessThan(0.6);
    // Nothing else changed: the catalog and pg_dump differ in the storage parameters only.
    const options = (lines: string[]) => lines.map((l) => l.replace(/ options \{[^}]*\}/, ' options ?'));
    const after = await catalogSnapshot(sql);
    expect(options(after)).toEqual(options(before));
    const dumpAfter = await schemaDump(db);
    if (dumpAfter !== null) {
      expect(dumpAfter).toMatch(/\)\nWITH \(autovacuum_analyze_scale_factor='0\.05', fillfactor='50', autovacuum_vacuum_scale_factor='0\.02'\);/);
      const withless = (d: string | null) => d?.replace(/\nWITH \([^)]*\);/g, ';');
      expect(withless(dumpAfter)).toEqual(withless(dumpBefore));
    }
    expect(await rpclLeftovers(sql)).toEqual([]);
  }, 180_000);
});

