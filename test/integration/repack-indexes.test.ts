/**
 * repack_indexes end to end through the real binary: bloated indexes rebuilt online under
 * writers (smaller, data and schema unchanged, nothing left), the leftovers of a killed
 * REINDEX CONCURRENTLY removed by abort_repack, the next repack_indexes and drop_schema (and a
 * user's own INVALID index left alone), a blocker and a long transaction bounded by
 * lock_timeout and named, and the refusals.
 */
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogSnapshot, schemaDump } from '../support/catalog.js';
import { makeHome, runCli, spawnCli, writeConfig, type RunningCli } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, sessionAs } from '../support/seed.js';
import { startSmtp } from '../support/smtp.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('reindex', async (d, s) => {
  db = d;
  sql = s;
});

const T = '"Idx Schema"."Mixed Case"';
const CONTROL = 'ctl.mirror';
const QIDX = '"Idx Schema"."with""quote"';
const PKEY = '"Idx Schema"."Mixed Case_pkey"';

/** A table whose two indexes are ~90% empty pages after a mass delete and VACUUM, and its control copy. */
async function freshTable(rows = 200_000): Promise<void> {
  await sql.query(`DROP SCHEMA IF EXISTS rpcl CASCADE; DROP SCHEMA IF EXISTS "Idx Schema" CASCADE; DROP SCHEMA IF EXISTS ctl CASCADE`);
  await sql.query(`CREATE SCHEMA "Idx Schema"; CREATE SCHEMA ctl`);
  await sql.query(`CREATE TABLE ${T} (id int PRIMARY KEY, "with""quote" int NOT NULL, payload text)`);
  await sql.query(`CREATE INDEX "with""quote" ON ${T} ("with""quote")`);
  await sql.query(`COMMENT ON INDEX ${QIDX} IS 'kept by the rebuild'`);
  await sql.query(`CREATE TABLE ${CONTROL} (id int PRIMARY KEY, "with""quote" int NOT NULL, payload text)`);
  await sql.query(`INSERT INTO ${T} SELECT g, (g::int8 * 7919) % 1000003, 'p' || g FROM generate_series(1, $1) g`, [rows]);
  await sql.query(`DELETE FROM ${T} WHERE id % 10 <> 0`);
  await sql.query(`VACUUM ANALYZE ${T}`);
  await sql.query(`INSERT INTO ${CONTROL} SELECT * FROM ${T}`);
}

async function size(index: string): Promise<number> {
  const { rows } = await sql.query(`SELECT pg_relation_size(to_regclass($1))::int8 AS n`, [index]);
  return Number(rows[0].n);
}

async function checksum(table: string): Promise<string> {
  const { rows } = await sql.query(`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '') AS s FROM ${table} t`);
  return rows[0].s;
}

/** Writers that change the table and mirror each change into the control table in the same transaction. */
class Writers {
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

let writers: Writers | undefined;
let extra: pg.Client[] = [];
let running: RunningCli | undefined;
afterEach(async () => {
  running?.kill('SIGKILL');
  running = undefined;
  await writers?.stop();
  writers = undefined;
  await Promise.all(extra.map((c) => c.end().catch(() => undefined)));
  extra = [];
  await sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'rpcl%'`);
});

async function startWriters(n = 3): Promise<Writers> {
  writers = new Writers(await Promise.all(Array.from({ length: n }, () => sessionAs(db, 'writer'))));
  return writers;
}

async function session(name: string): Promise<pg.Client> {
  const c = await sessionAs(db, name);
  extra.push(c);
  return c;
}

function config(lines: string[]): string {
  const home = makeHome();
  writeConfig(home, 'default', connectionConfig(db, ['schemas = ["Idx Schema"]', ...lines]));
  return home;
}

async function invalidIndexes(): Promise<string[]> {
  const { rows } = await sql.query(
    `SELECT c.oid::regclass::text AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

describe('repack_indexes', () => {
  it('rebuilds bloated indexes under writers: smaller, same rows, same schema, nothing left', async () => {
    await freshTable();
    // amcheck (contrib, shipped with the server): the rebuilt btrees are checked against the heap.
    await sql.query(`CREATE EXTENSION IF NOT EXISTS amcheck`);
    const before = { pkey: await size(PKEY), idx: await size(QIDX) };
    const catalogBefore = await catalogSnapshot(sql);
    const dumpBefore = await schemaDump(db);
    const home = config(['lock_timeout = "2s"', 'swap_attempts = 5']);
    const w = await startWriters();
    await new Promise((r) => setTimeout(r, 300));
    const run = await runCli(['repack_indexes', '--debug'], { home });
    await new Promise((r) => setTimeout(r, 300));
    await w.stop();
    writers = undefined;

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/index "Idx Schema"\."Mixed Case_pkey" \(table "Idx Schema"\."Mixed Case"\): done in/);
    expect(run.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): done in .* -> /);
    expect(run.stderr).toMatch(/index "Idx Schema"\."with""quote" rebuilt in/);
    expect(w.errors).toEqual([]);
    expect(w.commits).toBeGreaterThan(50);
    // 90% of the entries went away: the rebuilt indexes are at most half their old size.
    expect(await size(PKEY)).toBeLessThan(before.pkey / 2);
    expect(await size(QIDX)).toBeLessThan(before.idx / 2);
    expect(await checksum(T)).toBe(await checksum(CONTROL));
    // The rebuilt indexes answer like the table: every row found through each of them.
    await sql.query(`SET enable_seqscan = off; SET enable_bitmapscan = off`);
    const viaIndex = await sql.query(`SELECT count(*)::int AS n FROM ${T} WHERE "with""quote" >= 0`);
    const viaPkey = await sql.query(`SELECT count(*)::int AS n FROM ${T} WHERE id > 0`);
    await sql.query(`RESET enable_seqscan; RESET enable_bitmapscan`);
    const total = await sql.query(`SELECT count(*)::int AS n FROM ${CONTROL}`);
    expect([viaIndex.rows[0].n, viaPkey.rows[0].n]).toEqual([total.rows[0].n, total.rows[0].n]);
    // Every heap tuple is in each rebuilt index, and the btree invariants hold.
    for (const index of [PKEY, QIDX]) await sql.query(`SELECT bt_index_check($1::regclass, true)`, [index]);
    expect(await catalogSnapshot(sql)).toEqual(catalogBefore);
    expect(await schemaDump(db)).toEqual(dumpBefore);
    await sql.query(`DROP EXTENSION amcheck`);
    expect(await rpclLeftovers(sql)).toEqual([]);
    expect(await invalidIndexes()).toEqual([]);
    const { rows } = await sql.query(`SELECT index_name, status, size_before > size_after AS smaller FROM rpcl.index_runs ORDER BY index_name`);
    expect(rows).toEqual([
      { index_name: 'Mixed Case_pkey', status: 'done', smaller: true },
      { index_name: 'with"quote', status: 'done', smaller: true },
    ]);
  });

  for (const cleaner of ['abort_repack', 'repack_indexes', 'drop_schema'] as const) {
    it(`the INVALID _ccnew index of a killed rebuild is removed by ${cleaner}; a user's INVALID index is left alone`, async () => {
      await freshTable(50_000);
      // A user's failed CREATE INDEX CONCURRENTLY: INVALID, and not rpcl's.
      await sql.query(`CREATE UNIQUE INDEX CONCURRENTLY "user broken" ON ${T} ((id % 2))`).catch(() => undefined);
      expect(await invalidIndexes()).toEqual(['"Idx Schema"."user broken"']);
      // An open writer transaction: the rebuild waits for it after creating its new index.
      const holder = await session('holder');
      await holder.query(`BEGIN; UPDATE ${T} SET payload = 'held' WHERE id = 10`);
      const home = config(['lock_timeout = "60s"']);
      running = spawnCli(['repack_indexes', '--debug', '--index', QIDX], { home });
      const waiting = async () =>
        (await sql.query(
          `SELECT 1 FROM pg_stat_activity a WHERE a.datname = current_database() AND a.application_name = 'rpcl reindex' AND a.wait_event_type = 'Lock'
             AND EXISTS (SELECT 1 FROM pg_class WHERE relname = 'with"quote_ccnew')`,
        )).rows.length > 0;
      for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await waiting()).toBe(true);
      running.kill('SIGKILL');
      await running.done;
      running = undefined;
      // rpcl is gone, but its REINDEX still runs in the server: that rebuild is live, left alone.
      if (cleaner === 'abort_repack') {
        const live = await runCli(['abort_repack', '--yes'], { home });
        expect(live.code).toBe(5);
        expect(live.stdout).toMatch(/a live rpcl rebuild of index "Idx Schema"\."with""quote" is running: left alone/);
      }
      await sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rpcl reindex' AND datname = current_database()`);
      await holder.query('COMMIT');
      for (let i = 0; i < 40 && (await sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'rpcl%'`)).rows.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await invalidIndexes()).toEqual(['"Idx Schema"."user broken"', '"Idx Schema"."with""quote_ccnew"']);

      const args = cleaner === 'repack_indexes' ? [cleaner, '--debug', '--index', PKEY] : [cleaner, '--yes'];
      const run = await runCli(args, { home });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      if (cleaner !== 'repack_indexes') {
        // Listed in the confirmation plan first, then removed.
        expect(run.stdout).toMatch(
          new RegExp(`${cleaner} will remove:\\n(  - .*\\n)*  - the INVALID "Idx Schema"\\."with""quote_ccnew" left by an interrupted rebuild of index "Idx Schema"\\."with""quote"`),
        );
        expect(run.stdout).not.toMatch(/user broken/);
      }
      if (cleaner === 'abort_repack') {
        expect(run.stdout).toMatch(/cleaned up an interrupted rebuild of index "Idx Schema"\."with""quote" on "Idx Schema"\."Mixed Case": removed INVALID index "Idx Schema"\."with""quote_ccnew"/);
      }
      expect(run.stdout + run.stderr).toMatch(/with""quote_ccnew/);
      expect(await invalidIndexes()).toEqual(['"Idx Schema"."user broken"']);
      expect(await rpclLeftovers(sql)).toEqual([]);
      // The original index is whole: valid, and finds every row.
      const { rows } = await sql.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1)`, [QIDX]);
      expect(rows).toEqual([{ indisvalid: true }]);
      if (cleaner === 'drop_schema') {
        expect((await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rpcl'`)).rows).toEqual([]);
      }
    });
  }

  it('rpcl killed while the server goes on: the rebuild finishes in the server and a later abort_repack records it as done', async () => {
    await freshTable(20_000);
    const before = await size(QIDX);
    const holder = await session('holder');
    await holder.query(`BEGIN; UPDATE ${T} SET payload = 'held' WHERE id = 10`);
    const home = config(['lock_timeout = "60s"']);
    running = spawnCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    const reindexing = async () =>
      (await sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rpcl reindex' AND wait_event_type = 'Lock'`)).rows.length > 0;
    for (let i = 0; i < 200 && !(await reindexing()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await reindexing()).toBe(true);
    running.kill('SIGKILL');
    await running.done;
    running = undefined;
    await holder.query('COMMIT');
    const gone = async () => (await sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'rpcl%'`)).rows.length === 0;
    for (let i = 0; i < 200 && !(await gone()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await gone()).toBe(true);
    expect(await invalidIndexes()).toEqual([]);
    expect(await size(QIDX)).toBeLessThan(before / 2);
    const abort = await runCli(['abort_repack', '--yes'], { home });
    expect(abort.code, abort.stdout + abort.stderr).toBe(0);
    const { rows } = await sql.query(`SELECT status, last_error, size_after > 0 AS measured, leftovers_removed FROM rpcl.index_runs`);
    expect(rows).toEqual([{ status: 'done', last_error: 'rpcl died, but the server finished the rebuild', measured: true, leftovers_removed: true }]);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it("its own session terminated mid-rebuild: rpcl fails that index and removes the _ccnew itself", async () => {
    await freshTable(20_000);
    const holder = await session('holder');
    await holder.query(`BEGIN; UPDATE ${T} SET payload = 'held' WHERE id = 10`);
    const home = config(['lock_timeout = "60s"']);
    running = spawnCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    const waiting = async () =>
      (await sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rpcl reindex' AND wait_event_type = 'Lock'`)).rows.length > 0;
    for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await waiting()).toBe(true);
    await sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rpcl reindex' AND datname = current_database()`);
    // Its DROP INDEX CONCURRENTLY waits for the open writer like everything else: release it.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await invalidIndexes()).toEqual(['"Idx Schema"."with""quote_ccnew"']);
    await holder.query('COMMIT');
    const result = await running.done;
    running = undefined;
    expect(result.code).toBe(6);
    expect(result.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): failed: the rebuild's session was lost: .*; removed INVALID index "Idx Schema"\."with""quote_ccnew"/);
    expect(await invalidIndexes()).toEqual([]);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('a session holding a conflicting lock: bounded by lock_timeout, retried, named; writers not stalled; nothing left', async () => {
    await freshTable(50_000);
    const blocker = await session('the blocker');
    await blocker.query(`BEGIN; LOCK TABLE ${T} IN SHARE UPDATE EXCLUSIVE MODE`);
    const pid = (await blocker.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
    const home = config(['lock_timeout = "300ms"', 'swap_attempts = 3']);
    const w = await startWriters(2);
    const started = Date.now();
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    const took = Date.now() - started;
    await w.stop();
    writers = undefined;
    await blocker.query('ROLLBACK');

    expect(run.code, run.stderr).toBe(6);
    expect(run.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): failed: .*lock_timeout \(300 ms\) in 3 attempts/);
    expect(run.stdout).toContain(`pid ${pid} (user`);
    expect(run.stdout).toContain('application "the blocker"');
    expect(run.stderr.match(/attempt \d\/3: a lock or an older transaction was not released/g)?.length).toBe(2);
    // 3 attempts of 300 ms, backoff 0.5 s + 1 s, start-up: well under the minute it would hang.
    expect(took).toBeLessThan(15_000);
    expect(w.errors).toEqual([]);
    expect(w.worstMs).toBeLessThan(1000);
    expect(await rpclLeftovers(sql)).toEqual([]);
    expect(await invalidIndexes()).toEqual([]);
  });

  it('a long transaction (an old snapshot) makes the rebuild fail after lock_timeout, named, its new index dropped', async () => {
    await freshTable(50_000);
    const long = await session('long report');
    await long.query(`BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM ${CONTROL}`);
    const pid = (await long.query(`SELECT pg_backend_pid() AS pid`)).rows[0].pid;
    const home = config(['lock_timeout = "500ms"', 'swap_attempts = 2']);
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    // Still open: rpcl dropped its leftover without waiting for it.
    expect(await invalidIndexes()).toEqual([]);
    await long.query('ROLLBACK');
    expect(run.code, run.stderr).toBe(6);
    expect(run.stdout).toContain(`pid ${pid} (user`);
    expect(run.stdout).toMatch(/long transactions hold REINDEX CONCURRENTLY too/);
    expect(run.stderr).toMatch(/removed INVALID index "Idx Schema"\."with""quote_ccnew/);
    expect(await rpclLeftovers(sql)).toEqual([]);
    const { rows } = await sql.query(`SELECT status, leftovers_removed, attempts FROM rpcl.index_runs`);
    expect(rows).toEqual([{ status: 'failed', leftovers_removed: true, attempts: 2 }]);
  });

  it('a reader holding the table past the swap step: the index is rebuilt, its _ccold copy removed later by abort_repack', async () => {
    await freshTable(50_000);
    const reader = await session('open reader');
    // READ COMMITTED, idle after its query: no snapshot left, but its ACCESS SHARE lock on the
    // table stays, which only the last steps (dropping the old index) wait for.
    await reader.query(`BEGIN; SELECT count(*) FROM ${T}`);
    const before = await size(QIDX);
    const home = config(['lock_timeout = "300ms"', 'swap_attempts = 2']);
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX], { home });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): done in .*; rebuilt; the old copy of the index is still there; could not remove "Idx Schema"\."with""quote_ccold"/);
    expect(await size(QIDX)).toBeLessThan(before / 2);
    expect(await invalidIndexes()).toEqual(['"Idx Schema"."with""quote_ccold"']);
    await reader.query('COMMIT');
    const abort = await runCli(['abort_repack', '--yes'], { home });
    expect(abort.code, abort.stdout + abort.stderr).toBe(0);
    expect(abort.stdout).toMatch(/removed INVALID index "Idx Schema"\."with""quote_ccold"/);
    expect(await invalidIndexes()).toEqual([]);
    expect(await rpclLeftovers(sql)).toEqual([]);
    const { rows } = await sql.query(`SELECT status, leftovers_removed FROM rpcl.index_runs`);
    expect(rows).toEqual([{ status: 'done', leftovers_removed: true }]);
  });

  it('refuses an exclusion-constraint index and unknown names, with the reason, changing nothing', async () => {
    await freshTable(1000);
    await sql.query(`CREATE TABLE "Idx Schema".booking (id int PRIMARY KEY, during int4range, EXCLUDE USING gist (during WITH &&))`);
    const home = config([]);
    const unknown = await runCli(['repack_indexes', '--debug', '--index', '"Idx Schema".nope', '--index', T], { home });
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/index "Idx Schema"\.nope: no such index/);
    expect(unknown.stderr).toMatch(/index "Idx Schema"\."Mixed Case": it is not an index/);
    expect(unknown.stderr).toMatch(/Nothing was done/);
    expect((await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rpcl'`)).rows).toEqual([]);
    // Before detaching into the background too: said on the terminal, nothing started.
    const background = await runCli(['repack_indexes', '--background', '--index', '"Idx Schema".nope'], { home });
    expect(background.code).toBe(5);
    expect(background.stderr).toMatch(/rpcl: seed: index "Idx Schema"\.nope: no such index/);
    expect(background.stderr).toMatch(/repack_indexes did not start: fix the above, then run it again/);
    expect(background.stdout).not.toMatch(/runs in the background/);
    expect((await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rpcl'`)).rows).toEqual([]);

    const excl = await runCli(['repack_indexes', '--debug', '--index', '"Idx Schema".booking_during_excl', '--index', PKEY], { home });
    expect(excl.code).toBe(5);
    expect(excl.stdout).toMatch(/index "Idx Schema"\.booking_during_excl \(table "Idx Schema"\.booking\): refused: it backs an exclusion constraint/);
    expect(excl.stdout).toMatch(/index "Idx Schema"\."Mixed Case_pkey" \(table "Idx Schema"\."Mixed Case"\): done/);
    expect(await rpclLeftovers(sql)).toEqual([]);

    // Over a whole schema the exclusion index is refused too, but named by nobody: exit 0.
    const all = await runCli(['repack_indexes', '--debug'], { home });
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/booking_during_excl .*refused: it backs an exclusion constraint/);
    expect(all.stdout).toMatch(/booking_pkey .*done/);
  });

  it('a partitioned index stands for its leaf indexes, each rebuilt and still attached to the parent index', async () => {
    await freshTable(1000);
    await sql.query(`CREATE TABLE "Idx Schema".parted (id int, k int, PRIMARY KEY (id, k)) PARTITION BY RANGE (k)`);
    await sql.query(`CREATE TABLE "Idx Schema"."Part One" PARTITION OF "Idx Schema".parted FOR VALUES FROM (0) TO (100)`);
    await sql.query(`CREATE TABLE "Idx Schema".part_two PARTITION OF "Idx Schema".parted FOR VALUES FROM (100) TO (200)`);
    await sql.query(`INSERT INTO "Idx Schema".parted SELECT g, g % 200 FROM generate_series(1, 20000) g`);
    await sql.query(`DELETE FROM "Idx Schema".parted WHERE id % 5 <> 0`);
    await sql.query(`VACUUM "Idx Schema".parted`);
    const oids = async () =>
      (await sql.query(`SELECT relid::regclass::text AS name, relid::int8 AS oid FROM pg_partition_tree('"Idx Schema".parted_pkey') WHERE isleaf ORDER BY 1`)).rows;
    const before = await oids();
    const catalogBefore = await catalogSnapshot(sql);
    const home = config([]);
    const run = await runCli(['repack_indexes', '--debug', '--index', '"Idx Schema".parted_pkey'], { home });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/index "Idx Schema"\."Part One_pkey" \(table "Idx Schema"\."Part One"\): done/);
    expect(run.stdout).toMatch(/index "Idx Schema"\.part_two_pkey \(table "Idx Schema"\.part_two\): done/);
    expect(run.stdout).not.toMatch(/Mixed Case/);
    const after = await oids();
    // Same names in the partition tree of the parent index, new indexes under them.
    expect(after.map((r) => r.name)).toEqual(before.map((r) => r.name));
    expect(after.map((r) => r.oid)).not.toContain(before[0].oid);
    expect(await catalogSnapshot(sql)).toEqual(catalogBefore);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('excludes repack_tables on the same table, and stop_repack stops it cleanly', async () => {
    await freshTable(20_000);
    const holder = await session('holder');
    await holder.query(`BEGIN; UPDATE ${T} SET payload = 'held' WHERE id = 10`);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, ['tables = [\'"Idx Schema"."Mixed Case"\']', 'lock_timeout = "60s"']));
    running = spawnCli(['repack_indexes', '--foreground', '--index', QIDX], { home });
    const waiting = async () =>
      (await sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rpcl reindex' AND wait_event_type = 'Lock'`)).rows.length > 0;
    for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await waiting()).toBe(true);
    const tables = await runCli(['repack_tables', '--debug'], { home });
    expect(tables.code).toBe(5);
    expect(tables.stdout).toMatch(/"Mixed Case": refused: another rpcl run is working on this table/);
    const stopping = runCli(['stop_repack'], { home });
    // The cancelled rebuild's leftover is dropped once the writer it waited for is gone: end
    // the writer when the drop waits for it (not after a fixed time: on a busy machine the
    // rebuild could then finish before stop_repack even starts).
    const dropping = async () =>
      (await sql.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rpcl reindex' AND query ILIKE 'DROP INDEX CONCURRENTLY%'`,
      )).rows.length > 0;
    for (let i = 0; i < 600 && !(await dropping()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await dropping(), 'the stopped rebuild drops its leftover').toBe(true);
    await holder.query('COMMIT');
    const stop = await stopping;
    const result = await running.done;
    running = undefined;
    expect(stop.code, stop.stdout + stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/repack_indexes \(pid \d+\) stopped/);
    expect(result.code).toBe(130);
    expect(result.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): stopped: stopped on request; removed INVALID index "Idx Schema"\."with""quote_ccnew"/);
    expect(await invalidIndexes()).toEqual([]);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it("as a table owner without superuser: its own tables' indexes rebuilt, another owner's refused with the reason", async () => {
    await freshTable(5000);
    await sql.query(`DO $$ BEGIN CREATE ROLE ri_owner LOGIN PASSWORD 'ri-pass'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await sql.query(`DO $$ BEGIN CREATE ROLE "RI Other"; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await sql.query(`GRANT CREATE ON DATABASE "${db.database}" TO ri_owner; GRANT USAGE ON SCHEMA "Idx Schema" TO ri_owner`);
    await sql.query(`ALTER TABLE ${T} OWNER TO ri_owner`);
    await sql.query(`CREATE TABLE "Idx Schema".theirs (id int PRIMARY KEY); ALTER TABLE "Idx Schema".theirs OWNER TO "RI Other"`);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig({ ...db, user: 'ri_owner', password: 'ri-pass' }, ['schemas = ["Idx Schema"]']));
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX, '--index', '"Idx Schema".theirs_pkey'], { home });
    expect(run.code, run.stderr).toBe(5);
    expect(run.stdout).toMatch(/index "Idx Schema"\.theirs_pkey \(table "Idx Schema"\.theirs\): refused: its table is owned by "RI Other": REINDEX needs the owner/);
    expect(run.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): done/);
    expect(await rpclLeftovers(sql)).toEqual([]);
    await sql.query(`DROP SCHEMA rpcl CASCADE; DROP TABLE "Idx Schema".theirs; ALTER TABLE ${T} OWNER TO CURRENT_USER`);
    await sql.query(`REVOKE ALL ON DATABASE "${db.database}" FROM ri_owner`);
  });

  it('mails the report per index: sizes, durations, refusals', async () => {
    await freshTable(20_000);
    await sql.query(`CREATE TABLE "Idx Schema".booking (id int PRIMARY KEY, during int4range, EXCLUDE USING gist (during WITH &&))`);
    const smtp = await startSmtp('none');
    const home = makeHome();
    writeConfig(home, 'default', [
      '[notifier]', 'enable_email = true',
      '[notifier.email]', 'mailfrom = "rpcl@example.com"', 'mailto = ["dba@example.com"]',
      'smtp_server = "localhost"', `smtp_port = ${smtp.port}`, 'smtp_ssl = "none"',
      connectionConfig(db, ['schemas = ["Idx Schema"]']),
    ].join('\n'));
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX, '--index', '"Idx Schema".booking_during_excl'], { home });
    await smtp.close();
    expect(run.code).toBe(5);
    expect(smtp.mails).toHaveLength(1);
    const mail = smtp.mails[0]!;
    expect(mail.subject).toMatch(/^rpcl repack_indexes \(default\) on \S+: ok: 1 done, 0 failed, 1 refused$/);
    expect(mail.text).toMatch(/^seed index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): done in [\d.]+ s, [\d.]+ [kM]B -> [\d.]+ kB$/m);
    expect(mail.text).toMatch(/^seed index "Idx Schema"\.booking_during_excl \(table "Idx Schema"\.booking\): refused in 0\.0 s: it backs an exclusion constraint/m);
  });

  it('--dry-run lists the indexes and statements and changes nothing', async () => {
    await freshTable(1000);
    const home = config(['indexes = [\'"Idx Schema"."with""quote"\']']);
    const run = await runCli(['repack_indexes', '--dry-run'], { home });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('REINDEX INDEX CONCURRENTLY "Idx Schema"."with""quote";');
    expect(run.stdout).not.toContain('Mixed Case_pkey');
    expect((await sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rpcl'`)).rows).toEqual([]);
  });
});
