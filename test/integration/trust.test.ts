/**
 * The six defects of issue 11, each as the run a user made: rows filtered by FORCE ROW LEVEL
 * SECURITY, the swap deadlocking with readers through a view and with child-table writers,
 * NOT VALID constraints over violating rows, lost comments and identity sequence types, a
 * foreign key from a partitioned table, and the application's TRUNCATE during a run. Each
 * checks the database itself: rows, catalog, pg_dump, leftovers.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect.js';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { catalogSnapshot, schemaDump } from '../support/catalog.js';
import { type TestDatabase, useFreshDatabases } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, sessionAs, tableOid } from '../support/seed.js';

const fresh = useFreshDatabases();

function configFor(d: TestDatabase, table: string, lockTimeout = '1s'): string {
  const home = makeHome();
  writeConfig(home, 'default', connectionConfig(d, [`tables = ['${table}']`, `lock_timeout = "${lockTimeout}"`, 'check_time = 1']));
  return home;
}

async function rowsOf(sql: pg.Client, query: string): Promise<string> {
  const { rows } = await sql.query(`SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS h, count(*) AS n FROM (${query}) t`);
  return `${rows[0].n} ${rows[0].h}`;
}

describe('row-level security', () => {
  // Roles belong to the whole server: each test has its own.
  const schema = (role: string) => `
    CREATE ROLE ${role} LOGIN PASSWORD 'rls-pass';
    CREATE TABLE public.teams (id int PRIMARY KEY, team name NOT NULL, v int NOT NULL);
    INSERT INTO public.teams SELECT g, (ARRAY['${role}', 'blue', 'green'])[1 + g % 3], g FROM generate_series(1, 15000) g;
    ALTER TABLE public.teams OWNER TO ${role};
    ALTER TABLE public.teams ENABLE ROW LEVEL SECURITY;
    ALTER TABLE public.teams FORCE ROW LEVEL SECURITY;
    CREATE POLICY own_team ON public.teams USING (team = current_user);
    GRANT CREATE ON SCHEMA public TO ${role};
    DELETE FROM public.teams WHERE id % 2 = 0;`;

  it('refuses a FORCE ROW LEVEL SECURITY table when the role is subject to its policies, changing nothing', async () => {
    const { db: d, sql } = await fresh('rls_refuse', schema('rls_subject'));
    await sql.query(`GRANT CREATE ON DATABASE "${d.database}" TO rls_subject`);
    const oid = await tableOid(sql, 'public.teams');
    const before = await rowsOf(sql, 'SELECT * FROM public.teams');
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig({ ...d, user: 'rls_subject', password: 'rls-pass' }, [`tables = ['public.teams']`]));
    const r = await runCli(['repack_tables'], { home });
    expect(r.stdout + r.stderr).toMatch(/refused: it has FORCE ROW LEVEL SECURITY .* Connect as a role with BYPASSRLS/);
    expect(r.code).not.toBe(0);
    expect(await tableOid(sql, 'public.teams')).toBe(oid);
    expect(await rowsOf(sql, 'SELECT * FROM public.teams')).toBe(before);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('repacks it for a role with BYPASSRLS, keeping every row and the policy', async () => {
    const { db: d, sql } = await fresh('rls_bypass', schema('rls_bypasser'));
    await sql.query(`GRANT CREATE ON DATABASE "${d.database}" TO rls_bypasser; ALTER ROLE rls_bypasser BYPASSRLS`);
    const before = await rowsOf(sql, 'SELECT * FROM public.teams');
    expect(before).toMatch(/^7500 /);
    const catalog = await catalogSnapshot(sql);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig({ ...d, user: 'rls_bypasser', password: 'rls-pass' }, [`tables = ['public.teams']`]));
    const r = await runCli(['repack_tables', '--debug'], { home });
    expect(r.code).toBe(0);
    expect(await rowsOf(sql, 'SELECT * FROM public.teams')).toBe(before);
    expect(await catalogSnapshot(sql)).toEqual(catalog);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('every rpcl session reads with row_security off: a read a policy would filter fails instead', async () => {
    const { db: d } = await fresh('rls_session', schema('rls_reader'));
    const conn = {
      name: 'x', host: d.host, port: d.port, user: 'rls_reader', password: 'rls-pass', database: d.database, sslmode: 'disable',
    } as unknown as Parameters<typeof connect>[0];
    const c = await connect(conn, { home: makeHome() });
    try {
      await expect(c.query('SELECT count(*) FROM public.teams')).rejects.toThrow(/row-level security/);
    } finally {
      await c.end();
    }
  });
});

describe('the swap never waits for a lock while it holds the table', () => {
  const schema = `
    CREATE TABLE public.parent (id int PRIMARY KEY, v int NOT NULL);
    CREATE TABLE public.child (id serial PRIMARY KEY, parent_id int NOT NULL REFERENCES public.parent ON DELETE CASCADE);
    CREATE VIEW public.parent_view AS SELECT id, v FROM public.parent;
    INSERT INTO public.parent SELECT g, g FROM generate_series(1, 20000) g;
    INSERT INTO public.child (parent_id) SELECT g FROM generate_series(1, 20000, 7) g;
    DELETE FROM public.parent WHERE id % 2 = 0;`;

  /**
   * rpcl pauses once its swap locks are granted; meanwhile the application session runs a
   * statement that locks `first` and then the table. With the old order (the table, then the
   * rest) that session held `first` and waited for the table while the swap waited for
   * `first`: a deadlock, or a failed attempt. Now `first` is locked before the table.
   */
  async function appDuringSwap(prefix: string, statement: string) {
    const { db: d, sql } = await fresh(prefix, schema);
    const app = await sessionAs(d, 'app');
    const home = configFor(d, 'public.parent');
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'swap-locked:1500' } });
    await run.waitFor(/swap lock granted/);
    const t = performance.now();
    const appResult = await app.query(statement).then(() => 'ok', (err: Error & { code?: string }) => `${err.code} ${err.message}`);
    const appWaitMs = performance.now() - t;
    const result = await run.done;
    await app.end();
    return { sql, result, appResult, appWaitMs };
  }

  it('a reader through a view waits for the swap and gets its answer, no deadlock, first attempt', async () => {
    const { sql, result, appResult } = await appDuringSwap('swap_view', `SELECT count(*) FROM public.parent_view WHERE id = 1`);
    expect(appResult).toBe('ok');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/swap attempt 1\/5 succeeded: lock held \d+ ms/);
    expect(result.stderr).not.toMatch(/swap attempt \d\/5 failed/);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('a child-table writer (locks the child, then its foreign key check locks the table) commits, no deadlock, first attempt', async () => {
    // The insert holds the child table for half a second before its foreign key check locks the
    // parent: the swap that locked the parent first and then asked for the child deadlocked here.
    const { db: d, sql } = await fresh('swap_child', schema + `
      CREATE FUNCTION public.slow_child() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN IF NEW.parent_id = 1 THEN PERFORM pg_sleep(0.5); END IF; RETURN NEW; END $$;
      CREATE TRIGGER slow_child BEFORE INSERT ON public.child FOR EACH ROW EXECUTE FUNCTION public.slow_child();`);
    const app = await sessionAs(d, 'app');
    const run = spawnCli(['repack_tables', '--debug'], { home: configFor(d, 'public.parent', '3s'), env: { RPCL_TEST_PAUSE: 'swap:300' } });
    await run.waitFor(/phase swap: attempt 1 of 5/);
    const appResult = await app.query(`INSERT INTO public.child (parent_id) VALUES (1)`)
      .then(() => 'ok', (err: Error & { code?: string }) => `${err.code} ${err.message}`);
    const result = await run.done;
    await app.end();
    expect(appResult).toBe('ok');
    expect(result.code).toBe(0);
    expect(result.stderr, result.stderr).toMatch(/swap attempt 1\/5 succeeded/);
    const fk = await sql.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'child_parent_id_fkey'`);
    expect(fk.rows).toEqual([{ convalidated: true }]);
    expect((await sql.query(`SELECT count(*)::int AS n FROM public.child WHERE parent_id = 1`)).rows[0].n).toBe(2);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('a session holding the table that then reads the view is never the deadlock victim: the swap gives up first', async () => {
    const { db: d, sql } = await fresh('swap_order', schema);
    const app = await sessionAs(d, 'app');
    const home = configFor(d, 'public.parent', '3s');
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'swap:1000' } });
    await run.waitFor(/phase swap: attempt 1 of 5/);
    await app.query(`BEGIN; UPDATE public.parent SET v = v + 1 WHERE id = 1`);
    // rpcl now holds the view and waits for the table this session holds.
    await new Promise((r) => setTimeout(r, 1300));
    const appResult = await app.query(`SELECT count(*) FROM public.parent_view`).then(() => 'ok', (err: Error & { code?: string }) => `${err.code} ${err.message}`);
    await app.query('COMMIT');
    const result = await run.done;
    await app.end();
    expect(appResult).toBe('ok');
    expect(result.code).toBe(0);
    // The swap held the view and waited for the table: it saw this session wait for the view
    // and gave up at once, then took the table first and the view only once free.
    expect(result.stderr).toMatch(/swap attempt 1\/5, try 1: gave up at once \(locks dependents-first\): pid \d+ held what the swap waited for/);
    expect((await sql.query(`SELECT v FROM public.parent WHERE id = 1`)).rows[0].v).toBe(2);
  });
});

describe('constraint states and fidelity', () => {
  it('NOT VALID CHECK and foreign keys stay NOT VALID with their violating rows; valid ones stay valid', async () => {
    const { db: d, sql } = await fresh('not_valid', `
      CREATE TABLE public.dims (id int PRIMARY KEY);
      INSERT INTO public.dims SELECT generate_series(1, 10);
      CREATE TABLE public.legacy (id int PRIMARY KEY, v int, dim int, w int CHECK (w >= 0));
      INSERT INTO public.legacy SELECT g, CASE WHEN g % 10 = 0 THEN -g ELSE g END, CASE WHEN g % 7 = 0 THEN 99 ELSE 1 + g % 10 END, g
        FROM generate_series(1, 5000) g;
      ALTER TABLE public.legacy ADD CONSTRAINT legacy_positive CHECK (v > 0) NOT VALID;
      COMMENT ON CONSTRAINT legacy_positive ON public.legacy IS 'old rows may be negative';
      ALTER TABLE public.legacy ADD CONSTRAINT legacy_dim_fkey FOREIGN KEY (dim) REFERENCES public.dims NOT VALID;
      DELETE FROM public.legacy WHERE id % 3 = 0;
      -- orphans: ids deleted above and ids the table never had
      CREATE TABLE public.notes (id int PRIMARY KEY, legacy_id int);
      INSERT INTO public.notes SELECT g, g * 2 FROM generate_series(1, 4000) g;
      ALTER TABLE public.notes ADD CONSTRAINT notes_legacy_fkey FOREIGN KEY (legacy_id) REFERENCES public.legacy NOT VALID;`);
    const before = await rowsOf(sql, 'SELECT * FROM public.legacy');
    const catalog = await catalogSnapshot(sql);
    const dump = await schemaDump(d);
    const r = await runCli(['repack_tables', '--debug'], { home: configFor(d, 'public.legacy') });
    expect(r.stderr).not.toMatch(/violates/);
    expect(r.code).toBe(0);
    expect(await rowsOf(sql, 'SELECT * FROM public.legacy')).toBe(before);
    const states = await sql.query(
      `SELECT conname, convalidated FROM pg_constraint WHERE conrelid IN ('public.legacy'::regclass, 'public.notes'::regclass) AND contype IN ('c', 'f') ORDER BY 1`,
    );
    expect(states.rows).toEqual([
      { conname: 'legacy_dim_fkey', convalidated: false },
      { conname: 'legacy_positive', convalidated: false },
      { conname: 'legacy_w_check', convalidated: true },
      { conname: 'notes_legacy_fkey', convalidated: false },
    ]);
    expect(await catalogSnapshot(sql)).toEqual(catalog);
    expect(await schemaDump(d)).toEqual(dump);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('a NOT VALID NOT NULL (PostgreSQL 18) stays NOT VALID over its NULLs, and never makes a unique index a replay key', async () => {
    const { db: d, sql } = await fresh('not_null', `
      CREATE TABLE public.nn (id int PRIMARY KEY, v int);
      INSERT INTO public.nn SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE g END FROM generate_series(1, 3000) g;
      CREATE TABLE public.nokey (u int, w text);
      CREATE UNIQUE INDEX nokey_u ON public.nokey (u);
      INSERT INTO public.nokey SELECT CASE WHEN g % 7 = 0 THEN NULL ELSE g END, 'w' FROM generate_series(1, 1000) g;
      DELETE FROM public.nn WHERE id % 3 = 0;`);
    // Before 18 the columns simply stay nullable: the same runs, without the constraints.
    if (d.major >= 18) {
      await sql.query(`ALTER TABLE public.nn ADD CONSTRAINT nn_v_present NOT NULL v NOT VALID;
        ALTER TABLE public.nokey ADD CONSTRAINT nokey_u_present NOT NULL u NOT VALID`);
    }
    const before = await rowsOf(sql, 'SELECT * FROM public.nn');
    const catalog = await catalogSnapshot(sql);
    const r = await runCli(['repack_tables', '--debug'], { home: configFor(d, 'public.nn') });
    expect(r.code).toBe(0);
    expect(await rowsOf(sql, 'SELECT * FROM public.nn')).toBe(before);
    expect(await catalogSnapshot(sql)).toEqual(catalog);
    const state = await sql.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'nn_v_present'`);
    expect(state.rows).toEqual(d.major >= 18 ? [{ convalidated: false }] : []);
    const refused = await runCli(['repack_tables'], { home: configFor(d, 'public.nokey') });
    expect(refused.stdout).toMatch(/public\.nokey: refused: it has no primary key and no NOT NULL unique index/);
  });

  it('keeps comments on constraint indexes and identity sequences, and the sequence type and options', async () => {
    const { db: d, sql } = await fresh('fidelity', `
      CREATE ROLE seq_user;
      CREATE TABLE public.ids (
        id int GENERATED BY DEFAULT AS IDENTITY (START 10 INCREMENT 5 CACHE 3) PRIMARY KEY,
        small smallint GENERATED ALWAYS AS IDENTITY (MAXVALUE 30000) UNIQUE,
        k text NOT NULL, EXCLUDE USING btree (k WITH =));
      COMMENT ON INDEX public.ids_pkey IS 'the key';
      COMMENT ON INDEX public.ids_small_key IS 'the small one';
      COMMENT ON INDEX public.ids_k_excl IS 'no twins';
      COMMENT ON SEQUENCE public.ids_id_seq IS 'numbers';
      GRANT USAGE ON SEQUENCE public.ids_id_seq TO seq_user;
      INSERT INTO public.ids (k) SELECT 'k' || g FROM generate_series(1, 3000) g;
      DELETE FROM public.ids WHERE id % 4 = 0;`);
    const before = await rowsOf(sql, 'SELECT * FROM public.ids');
    const catalog = await catalogSnapshot(sql);
    const dump = await schemaDump(d);
    const r = await runCli(['repack_tables', '--debug'], { home: configFor(d, 'public.ids') });
    expect(r.code).toBe(0);
    expect(await rowsOf(sql, 'SELECT * FROM public.ids')).toBe(before);
    expect(await catalogSnapshot(sql)).toEqual(catalog);
    expect(await schemaDump(d)).toEqual(dump);
    const after = await sql.query(
      `SELECT obj_description('public.ids_pkey'::regclass, 'pg_class') AS pk, obj_description('public.ids_id_seq'::regclass, 'pg_class') AS seq,
              (SELECT seqtypid::regtype::text FROM pg_sequence WHERE seqrelid = 'public.ids_id_seq'::regclass) AS type,
              has_sequence_privilege('seq_user', 'public.ids_id_seq', 'USAGE') AS usage`,
    );
    expect(after.rows).toEqual([{ pk: 'the key', seq: 'numbers', type: 'integer', usage: true }]);
    // The identity goes on from where it was.
    const next = await sql.query(`INSERT INTO public.ids (k) VALUES ('new') RETURNING id`);
    expect(next.rows[0].id).toBe(10 + 3000 * 5);
  });
});

describe('a foreign key from a partitioned table', () => {
  const schema = `
    CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO public.customers SELECT g, 'c' || g FROM generate_series(1, 4000) g;
    CREATE TABLE public.sales (id int, customer_id int REFERENCES public.customers, d date NOT NULL) PARTITION BY RANGE (d);
    CREATE TABLE public.sales_2024 PARTITION OF public.sales FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE public.sales_2025 PARTITION OF public.sales FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    INSERT INTO public.sales SELECT g, 1 + g % 1000, date '2024-01-01' + g % 700 FROM generate_series(1, 5000) g;
    DELETE FROM public.customers WHERE id > 1000 AND id % 2 = 0;`;

  it('is carried by the swap on PostgreSQL 18 (NOT VALID, then validated), refused before 18 with the reason', async () => {
    const { db: d, sql } = await fresh('part_fk', schema);
    const oid = await tableOid(sql, 'public.customers');
    const before = await rowsOf(sql, 'SELECT * FROM public.customers');
    const catalog = await catalogSnapshot(sql);
    const dump = await schemaDump(d);
    const r = await runCli(['repack_tables', '--debug'], { home: configFor(d, 'public.customers') });
    if (d.major >= 18) {
      expect(r.code).toBe(0);
      expect(await tableOid(sql, 'public.customers')).not.toBe(oid);
      const fks = await sql.query(`SELECT conrelid::regclass::text AS t, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 1`);
      expect(fks.rows).toEqual([
        { t: 'sales', convalidated: true }, { t: 'sales_2024', convalidated: true }, { t: 'sales_2025', convalidated: true },
      ]);
    } else {
      expect(r.stdout + r.stderr).toMatch(/refused: partitioned table public\.sales references it .* before PostgreSQL 18/);
      expect(r.code).not.toBe(0);
      expect(await tableOid(sql, 'public.customers')).toBe(oid);
    }
    expect(await rowsOf(sql, 'SELECT * FROM public.customers')).toBe(before);
    expect(await catalogSnapshot(sql)).toEqual(catalog);
    expect(await schemaDump(d)).toEqual(dump);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});

describe("the application's TRUNCATE during a run", () => {
  const schema = `
    CREATE TABLE public.jobs (id int PRIMARY KEY, v int NOT NULL, payload text);
    CREATE TABLE public.jobs_control (id int PRIMARY KEY, v int NOT NULL, payload text);
    INSERT INTO public.jobs SELECT g, g, repeat('p', 50) FROM generate_series(1, 20000) g;
    DELETE FROM public.jobs WHERE id % 2 = 0;
    INSERT INTO public.jobs_control SELECT * FROM public.jobs;`;

  /** TRUNCATE and reload, mirrored into the control table in the same transaction. */
  async function reload(c: pg.Client, round: number): Promise<void> {
    await c.query('BEGIN');
    await c.query('TRUNCATE public.jobs');
    await c.query('TRUNCATE public.jobs_control');
    await c.query(`INSERT INTO public.jobs SELECT g, g * $1::int, 'r' || $1 FROM generate_series(1, 3000 + $1::int * 10) g`, [round]);
    await c.query(`UPDATE public.jobs SET v = -v WHERE id % 5 = 0`);
    await c.query('INSERT INTO public.jobs_control SELECT * FROM public.jobs');
    await c.query('COMMIT');
  }

  it('commits normally at every phase, and the repacked table equals what the application wrote', async () => {
    const { db: d, sql } = await fresh('truncate', schema);
    const app = await sessionAs(d, 'nightly job');
    const writer = await sessionAs(d, 'writer');
    let running = true;
    const errors: string[] = [];
    const writes = (async () => {
      for (let i = 0; running; i++) {
        try {
          await writer.query('BEGIN');
          await writer.query(`WITH u AS (UPDATE public.jobs SET v = v + 1 WHERE id = $1 RETURNING id, v)
            UPDATE public.jobs_control c SET v = u.v FROM u WHERE c.id = u.id`, [1 + (i * 37) % 3000]);
          await writer.query('COMMIT');
        } catch (err) {
          await writer.query('ROLLBACK').catch(() => undefined);
          errors.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const home = configFor(d, 'public.jobs');
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:800,index:500,replay:1500' } });
    // Inside the copy's transaction, after its snapshot and before it reads the table: the
    // reload commits first, and the copy then reads the new, emptied storage.
    await run.waitFor(/copy snapshot taken/);
    await reload(app, 1);
    await run.waitFor(/phase index/);
    await reload(app, 2);
    await run.waitFor(/phase replay/);
    await reload(app, 3);
    await new Promise((r) => setTimeout(r, 1600));
    await reload(app, 4);
    const result = await run.done;
    running = false;
    await writes;
    await Promise.all([app.end(), writer.end()]);
    expect(errors).toEqual([]);
    expect(result.stderr).not.toMatch(/changed during the run/);
    expect(result.code).toBe(0);
    expect(await rowsOf(sql, 'SELECT * FROM public.jobs')).toBe(await rowsOf(sql, 'SELECT * FROM public.jobs_control'));
    expect(await rowsOf(sql, 'SELECT * FROM public.jobs')).toMatch(/^3040 /);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});
