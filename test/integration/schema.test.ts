/**
 * create_schema / drop_schema against a real server, and the connection-error paths.
 * The oracle is the catalog: after drop_schema nothing of rpcl's remains, a capture trigger
 * planted on a user table included, and the user's own objects are untouched.
 */
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, projectRoot, runCli, writeConfig } from '../support/cli.js';
import { HELPER_SCHEMA_MARKER } from '../../src/plan/names.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { freePort } from '../../src/embedded/server.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('schema', async (d, s) => {
  db = d;
  sql = s;
});

function config(overrides: { password?: string; port?: number; host?: string } = {}): string {
  return [
    '[connections.main]',
    `host = "${overrides.host ?? db.host}"`,
    `port = ${overrides.port ?? db.port}`,
    `user = "${db.user}"`,
    `password = "${overrides.password ?? db.password}"`,
    `database = "${db.database}"`,
    'sslmode = "disable"',
    'lock_timeout = "500ms"',
    '[logging]',
    'log_level = "debug"',
  ].join('\n');
}

async function rpclObjects(): Promise<string[]> {
  const { rows } = await sql.query<{ what: string }>(`
    SELECT 'schema ' || nspname AS what FROM pg_namespace WHERE nspname = 'rpcl'
    UNION ALL SELECT 'relation ' || relname FROM pg_class WHERE relname ~ '^(log|copy)_[0-9]+$'
    UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgname LIKE 'rpcl%'
    UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proname ~ '^capture_[0-9]+$'
    ORDER BY 1`);
  return rows.map((r) => r.what);
}

describe('helper schema', () => {
  it('runs on the PostgreSQL major the suite was asked for', async () => {
    const { rows } = await sql.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
    expect(Math.floor(Number(rows[0]!.v) / 10000)).toBe(db.major);
  });

  it('create_schema installs it, a second run only warns', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const first = await runCli(['create_schema'], { home });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const { rows } = await sql.query(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'rpcl' AND table_name = 'runs' ORDER BY ordinal_position`,
    );
    const columns = rows.map((r: { column_name: string }) => r.column_name);
    for (const c of ['table_oid', 'schema_name', 'table_name', 'phase', 'status', 'started_at', 'ended_at',
      'size_before', 'size_after', 'runner_pid', 'runner_host', 'last_error']) {
      expect(columns).toContain(c);
    }
    const second = await runCli(['create_schema', '--debug'], { home });
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/WARNING \[main\] the helper schema rpcl already exists/);
    const log = readFileSync(join(home, '.repcloud', 'logs', 'repack_default.log'), 'utf8');
    expect(readlinkSync(join(home, '.repcloud', 'logs', 'repack_default.log'))).toMatch(/repack_default-\d{4}-\d{2}-\d{2}\.log$/);
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d INFO \[main\] created the helper schema rpcl$/m);
    expect(log).not.toContain(db.password);
  });

  it('drop_schema removes everything of rpcl, a planted capture trigger included, and nothing else', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    expect((await runCli(['create_schema'], { home })).code).toBe(0);
    await sql.query(`
      CREATE SCHEMA "App Schema";
      CREATE TABLE "App Schema"."Mixed ""Case"" Table" (id int PRIMARY KEY, v text);
      CREATE FUNCTION "App Schema".user_trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
      CREATE TRIGGER user_trigger BEFORE INSERT ON "App Schema"."Mixed ""Case"" Table"
        FOR EACH ROW EXECUTE FUNCTION "App Schema".user_trg();
      CREATE TABLE rpcl.log_424242 (id bigserial PRIMARY KEY, k int);
      CREATE FUNCTION rpcl.capture_424242() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO rpcl.log_424242 (k) VALUES (NEW.id); RETURN NULL; END $$;
      CREATE TRIGGER rpcl_capture_424242 AFTER INSERT ON "App Schema"."Mixed ""Case"" Table"
        FOR EACH ROW EXECUTE FUNCTION rpcl.capture_424242();
      ALTER TABLE "App Schema"."Mixed ""Case"" Table" ENABLE ALWAYS TRIGGER rpcl_capture_424242;
      INSERT INTO "App Schema"."Mixed ""Case"" Table" VALUES (1, 'one');
    `);
    expect(await rpclObjects()).toEqual([
      'function capture_424242',
      'relation log_424242',
      'schema rpcl',
      'trigger rpcl_capture_424242',
    ]);
    const r = await runCli(['drop_schema'], { home });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await rpclObjects()).toEqual([]);
    const triggers = await sql.query(`SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`);
    expect(triggers.rows).toEqual([{ tgname: 'user_trigger' }]);
    await sql.query(`INSERT INTO "App Schema"."Mixed ""Case"" Table" VALUES (2, 'two')`);
    const rows = await sql.query(`SELECT id, v FROM "App Schema"."Mixed ""Case"" Table" ORDER BY id`);
    expect(rows.rows).toEqual([{ id: 1, v: 'one' }, { id: 2, v: 'two' }]);
    const again = await runCli(['drop_schema'], { home });
    expect(again.code).toBe(0);
  });

  it('drop_schema refuses when a user object depends on the helper schema, and changes nothing', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    expect((await runCli(['create_schema'], { home })).code).toBe(0);
    await sql.query(`CREATE VIEW public.run_history AS SELECT run_id, phase FROM rpcl.runs`);
    const r = await runCli(['drop_schema'], { home });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/view run_history/);
    expect(await rpclObjects()).toEqual(['schema rpcl']);
    await sql.query(`DROP VIEW public.run_history`);
    expect((await runCli(['drop_schema'], { home })).code).toBe(0);
    expect(await rpclObjects()).toEqual([]);
  });

  for (const from of [1, 2, 3]) {
    it(`a helper schema of version ${from} (an older rpcl) is upgraded in place on first use, its runs kept`, async () => {
      await sql.query(`DROP SCHEMA IF EXISTS rpcl CASCADE; DROP TABLE IF EXISTS public.small; CREATE TABLE public.small (id int PRIMARY KEY, v text)`);
      await sql.query(`INSERT INTO public.small SELECT g, 'v' FROM generate_series(1, 100) g`);
      // What that rpcl installed: the version 1 script and the upgrades up to its version, its marker, its versions.
      await sql.query(readFileSync(join(projectRoot, 'sql', 'helper_schema.sql'), 'utf8'));
      for (let v = 2; v <= from; v++) await sql.query(readFileSync(join(projectRoot, 'sql', `upgrade_${v}.sql`), 'utf8'));
      await sql.query(`COMMENT ON SCHEMA rpcl IS '${HELPER_SCHEMA_MARKER.replace(/'/g, "''")}'`);
      await sql.query(`INSERT INTO rpcl.schema_version (version) SELECT generate_series(1, $1::int)`, [from]);
      await sql.query(`INSERT INTO rpcl.runs (table_oid, schema_name, table_name, status, phase, runner_pid, runner_host)
                       VALUES ('public.small'::regclass, 'public', 'small', 'done', 'done', 1, 'old-host')`);
      const home = makeHome();
      writeConfig(home, 'default', config().replace('lock_timeout = "500ms"', 'lock_timeout = "500ms"\ntables = ["public.small"]'));
      const run = await runCli(['repack_tables', '--debug'], { home });
      expect(run.stderr).toMatch(/upgraded the helper schema rpcl to version 4/);
      expect(run.code).toBe(0);
      const { rows } = await sql.query(
        `SELECT (SELECT array_agg(version ORDER BY version) FROM rpcl.schema_version) AS versions,
                (SELECT count(*)::int FROM pg_attribute WHERE attrelid = 'rpcl.runs'::regclass
                   AND attname IN ('pause_requested', 'throttle', 'partition_of', 'partition_number', 'partitions_in_run')) AS columns,
                to_regclass('rpcl.index_runs') IS NOT NULL AS index_runs,
                (SELECT count(*)::int FROM rpcl.runs WHERE runner_host = 'old-host') AS old_runs`,
      );
      expect(rows[0]).toEqual({ versions: [1, 2, 3, 4], columns: 5, index_runs: true, old_runs: 1 });
      // Once is enough: the next run finds version 4 and says nothing about it; repack_indexes works on it.
      const again = await runCli(['repack_tables', '--debug'], { home });
      expect(again.code).toBe(0);
      expect(again.stderr).not.toMatch(/upgraded the helper schema/);
      const indexes = await runCli(['repack_indexes', '--debug'], { home });
      expect(indexes.code, indexes.stderr).toBe(0);
      expect(indexes.stdout).toMatch(/index public\.small_pkey \(table public\.small\): done/);
      expect(indexes.stderr).not.toMatch(/upgraded the helper schema/);
      await sql.query(`DROP SCHEMA rpcl CASCADE; DROP TABLE public.small`);
    });
  }

  it('refuses to adopt or drop a schema named rpcl that it did not create', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    await sql.query(`CREATE SCHEMA rpcl; CREATE TABLE rpcl.mine (x int)`);
    for (const cmd of ['create_schema', 'drop_schema']) {
      const r = await runCli([cmd], { home });
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/not created by rpcl/);
    }
    const still = await sql.query(`SELECT count(*)::int AS n FROM pg_class WHERE relname = 'mine'`);
    expect(still.rows[0].n).toBe(1);
    await sql.query(`DROP SCHEMA rpcl CASCADE`);
  });
});

describe('connection errors', () => {
  it('a wrong password gives host, port and user, never the password', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config({ password: 'not-the-Password-42' }));
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`host ${db.host}, port ${db.port}, user ${db.user}`));
    expect(r.stderr).toMatch(/password authentication failed/);
    expect(r.stderr).not.toContain('not-the-Password-42');
    const logDir = join(home, '.repcloud', 'logs');
    expect(readFileSync(join(logDir, 'repack_default.log'), 'utf8')).not.toContain('not-the-Password-42');
  });

  it('an unreachable host gives the connection-error exit code', async () => {
    const home = makeHome();
    const port = await freePort();
    writeConfig(home, 'default', config({ port }));
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(new RegExp(`host ${db.host}, port ${port}, user ${db.user}.*unreachable`));
  });
});

describe('pid files', () => {
  it('a second run of the same command and config is refused with the first one\'s pid', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const pidDir = join(home, '.repcloud', 'pid');
    await runCli(['show_connections'], { home });
    // This test process is alive: its pid stands for a running rpcl.
    writeFileSync(join(pidDir, 'create_schema_default.pid'), `${process.pid}\n`);
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(7);
    expect(r.stderr).toContain(`pid ${process.pid}`);
    expect(readFileSync(join(pidDir, 'create_schema_default.pid'), 'utf8').trim()).toBe(String(process.pid));
  });

  it('a stale pid file is replaced with a warning', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const pidDir = join(home, '.repcloud', 'pid');
    await runCli(['show_connections'], { home });
    writeFileSync(join(pidDir, 'drop_schema_default.pid'), '2147483646\n');
    const r = await runCli(['drop_schema', '--debug'], { home });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/WARNING replaced a stale pid file for drop_schema \(pid 2147483646 is not running\)/);
    expect(() => readFileSync(join(pidDir, 'drop_schema_default.pid'))).toThrow();
  });
});
