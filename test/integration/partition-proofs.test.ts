/**
 * What lets the swap of a partition ATTACH its copy without reading rows under the parent's
 * lock (plan/partition.ts): the copy's CHECK constraint proving its bound, and a CHECK
 * constraint on the default partition beside it, which must reject no write of the
 * application's while it is there and go away with the run, however the run ends. Shown under
 * writers that insert across partitions and move rows between them (in and out of the default
 * partition), every change written to a control table in the same transaction; readers query
 * the parent through a view and a join. The server's own DEBUG1 word on each ATTACH (logged by
 * the swap) is the oracle for "no scan".
 */
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { catalogSnapshot } from '../support/catalog.js';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { partitionTree, ReadLoops } from '../support/partitions.js';
import { connectionConfig } from '../support/seed.js';
import { describeError } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('partproofs', async (d, s) => {
  db = d;
  sql = s;
});

const S = '"Part Proofs"';
const ORDERS = `${S}."Orders"`;
const LEAVES = ['Orders 1', 'Orders 2', 'Orders rest'];

async function createSchema(): Promise<void> {
  await sql.query(`DROP SCHEMA IF EXISTS ${S} CASCADE; DROP SCHEMA IF EXISTS rpcl CASCADE`);
  await sql.query(`
    CREATE SCHEMA ${S};
    CREATE TABLE ${S}.customers (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO ${S}.customers SELECT g, 'customer ' || g FROM generate_series(1, 200) g;
    CREATE TABLE ${ORDERS} (id bigint, day int NOT NULL, customer int NOT NULL, note text, PRIMARY KEY (id, day))
      PARTITION BY RANGE (day);
    CREATE INDEX "Orders by customer" ON ${ORDERS} (customer);
    CREATE TABLE ${S}."Orders 1" PARTITION OF ${ORDERS} FOR VALUES FROM (0) TO (100);
    CREATE TABLE ${S}."Orders 2" PARTITION OF ${ORDERS} FOR VALUES FROM (100) TO (200);
    CREATE TABLE ${S}."Orders rest" PARTITION OF ${ORDERS} DEFAULT;
    CREATE TABLE ${S}.control (id bigint, day int NOT NULL, customer int NOT NULL, note text, PRIMARY KEY (id, day));
    CREATE VIEW ${S}.recent AS SELECT o.id, o.day, c.name FROM ${ORDERS} o JOIN ${S}.customers c ON c.id = o.customer;
    INSERT INTO ${ORDERS} SELECT g, g % 300, 1 + g % 200, repeat('n', 40) FROM generate_series(1, 30000) g;
    INSERT INTO ${S}.control SELECT * FROM ${ORDERS};
    DELETE FROM ${ORDERS} WHERE id % 3 = 0;
    DELETE FROM ${S}.control WHERE id % 3 = 0;
    ANALYZE;
  `);
}

/**
 * Writers, each transaction on both tables, in the same order: the application's own
 * transactions never deadlock with each other, so any error is the repack's doing, but one:
 * two writers moving the same row to another partition at once get PostgreSQL's own
 * serialization failure ("already moved to another partition"), with or without a repack.
 */
class Writers {
  private running = false;
  private loops: Promise<void>[] = [];
  readonly errors: string[] = [];
  commits = 0;

  constructor(private readonly clients: pg.Client[]) {}

  start(): void {
    running.push(this);
    this.running = true;
    this.loops = this.clients.map((c, i) => this.loop(c, i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(c: pg.Client, w: number): Promise<void> {
    let n = 0;
    while (this.running) {
      n++;
      const id = 1 + Math.floor(Math.random() * 30000);
      const pick = Math.random();
      try {
        await c.query('BEGIN');
        if (pick < 0.35) {
          const row = [1_000_000 * (w + 1) + n, Math.floor(Math.random() * 300), 1 + Math.floor(Math.random() * 150), `w${w} ${n}`];
          for (const t of [ORDERS, `${S}.control`]) await c.query(`INSERT INTO ${t} VALUES ($1, $2, $3, $4)`, row);
        } else if (pick < 0.6) {
          // Moves the row to the next partition: in and out of "Orders 1" and the default one.
          for (const t of [ORDERS, `${S}.control`]) {
            await c.query(`UPDATE ${t} SET day = (day + 100) % 300 WHERE id = $1`, [id]);
          }
        } else if (pick < 0.85) {
          for (const t of [ORDERS, `${S}.control`]) await c.query(`UPDATE ${t} SET note = $2 WHERE id = $1`, [id, `u${n}`]);
        } else {
          for (const t of [ORDERS, `${S}.control`]) await c.query(`DELETE FROM ${t} WHERE id = $1`, [id]);
        }
        await c.query('COMMIT');
        this.commits++;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        if (!/already moved to another partition/.test((err as Error).message)) this.errors.push(describeError(err));
      }
    }
  }
}

/** Whatever a failed test left running is stopped before the next one (and the database's drop). */
const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop()));
});

async function ordered(table: string): Promise<{ n: number; md5: string }> {
  const { rows } = await sql.query(
    `SELECT count(*)::int AS n, coalesce(md5(string_agg(t::text, '|' ORDER BY id, day)), '') AS md5
     FROM (SELECT id, day, customer, note FROM ${table}) t`,
  );
  return { n: rows[0].n, md5: rows[0].md5 };
}

async function sessions(n: number): Promise<pg.Client[]> {
  return Promise.all(Array.from({ length: n }, () => db.client()));
}

describe('partition proofs', () => {
  it('repacks every leaf of a partitioned table with a default partition: no scan under the locks, data and catalog equal', async () => {
    await createSchema();
    const treeBefore = await partitionTree(sql);
    const catalogBefore = await catalogSnapshot(sql);
    const before = new Map((await sql.query(`SELECT relname, relfilenode FROM pg_class WHERE relname = ANY($1)`, [LEAVES])).rows.map((r) => [r.relname, r.relfilenode]));

    const writers = new Writers(await sessions(2));
    const readers = new ReadLoops(await sessions(2), [
      async (q) => void (await q(`SELECT count(*) FROM ${S}.recent WHERE day BETWEEN 40 AND 160`)),
      async (q) => void (await q(`SELECT o.note FROM ${ORDERS} o JOIN ${S}.customers c ON c.id = o.customer WHERE o.id = $1`, [1 + Math.floor(Math.random() * 30000)])),
    ]);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ['${ORDERS}']`, 'lock_timeout = "2s"', 'check_time = 1']));
    writers.start();
    readers.start();
    running.push(readers);
    const run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:1500' } });
    await writers.stop();
    await readers.stop();
    expect(run.code, run.stderr).toBe(0);
    expect(writers.errors).toEqual([]);
    expect(readers.errors).toEqual([]);
    expect(writers.commits).toBeGreaterThan(50);

    // Every leaf was rewritten; the structure, the foreign keys' clones and the rest are as before.
    const after = (await sql.query(`SELECT relname, relfilenode FROM pg_class WHERE relname = ANY($1)`, [LEAVES])).rows;
    expect(after).toHaveLength(3);
    for (const r of after) expect(r.relfilenode).not.toBe(before.get(r.relname));
    expect(await partitionTree(sql)).toEqual(treeBefore);
    expect(await catalogSnapshot(sql)).toEqual(catalogBefore);
    // The server's word on each ATTACH: implied, for the copy and for the default partition
    // beside it; never a table verified under the locks.
    for (const leaf of ['Orders 1', 'Orders 2']) {
      expect(run.stderr).toMatch(new RegExp(`\\[seed "Part Proofs"\\."${leaf}"\\] server: partition constraint for table "${leaf}" is implied by existing constraints`));
      expect(run.stderr).toMatch(new RegExp(`\\[seed "Part Proofs"\\."${leaf}"\\] server: updated partition constraint for default partition "Orders rest" is implied by existing constraints`));
      expect(run.stderr).toMatch(new RegExp(`"Part Proofs"\\."${leaf}"\\] validate the CHECK constraint on the default partition Orders rest: `));
    }
    expect(run.stderr).toMatch(/server: partition constraint for table "Orders rest" is implied by existing constraints/);
    expect(run.stderr).not.toMatch(/ATTACH read rows|validating foreign key constraint|verifying table/);
    expect(run.stderr).toMatch(/"Part Proofs"\."Orders": partition 1 of 3, /);
    expect(run.stderr).toMatch(/"Part Proofs"\."Orders": partition 3 of 3, .* \(0 partitions after it\)/);

    expect(await ordered(ORDERS)).toEqual(await ordered(`${S}.control`));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('a run killed after the default partition got its CHECK constraint: the application goes on, abort_repack removes it', async () => {
    await createSchema();
    const catalogBefore = await catalogSnapshot(sql);
    const writers = new Writers(await sessions(2));
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ['${S}."Orders 1"']`, 'lock_timeout = "2s"']));
    writers.start();
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:60000' } });
    await run.waitFor(/phase replay/).catch(async (err) => {
      await writers.stop();
      throw new Error(`${(err as Error).message}\n${run.output()}`);
    });
    const exclusion = await sql.query(
      `SELECT conrelid::regclass::text AS t, convalidated FROM pg_constraint WHERE conname LIKE 'rpcl_excl_%'`,
    );
    expect(exclusion.rows).toEqual([{ t: '"Part Proofs"."Orders rest"', convalidated: true }]);
    run.kill('SIGKILL');
    await run.done;
    // Rows still move in and out of the default partition with the constraint on it.
    const commits = writers.commits;
    await new Promise((r) => setTimeout(r, 500));
    expect(writers.commits).toBeGreaterThan(commits);

    const abort = await runCli(['abort_repack', '--debug'], { home });
    await writers.stop();
    expect(abort.code, abort.stderr).toBe(0);
    expect(abort.stderr).toMatch(/"Part Proofs"\."Orders 1"/);
    expect(writers.errors).toEqual([]);
    expect(await catalogSnapshot(sql)).toEqual(catalogBefore);
    expect(await rpclLeftovers(sql)).toEqual([]);
    expect(await ordered(ORDERS)).toEqual(await ordered(`${S}.control`));
  });

  it('prepare_repack keeps every leaf prepared (no constraint on the default partition meanwhile); status names the leaf; repack_tables swaps them', async () => {
    await createSchema();
    const catalogBefore = await catalogSnapshot(sql);
    const writers = new Writers(await sessions(2));
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ['${ORDERS}']`, 'lock_timeout = "2s"']));
    writers.start();
    const prepare = await runCli(['prepare_repack', '--debug'], { home });
    expect(prepare.code, prepare.stderr).toBe(0);
    // A kept copy leaves nothing on the application's tables but its capture trigger: the
    // default partition gets its CHECK constraint from the run that swaps.
    expect((await sql.query(`SELECT count(*)::int AS n FROM pg_constraint WHERE conname LIKE 'rpcl_excl_%'`)).rows[0].n).toBe(0);
    expect(prepare.stderr).toMatch(/"Part Proofs"\."Orders": partition 3 of 3, "Part Proofs"\."Orders rest"/);
    const status = await runCli(['status'], { home });
    expect(status.stdout).toMatch(/"Part Proofs"\."Orders 1": prepared .*partition \d of 3 of "Part Proofs"\."Orders"/);
    const json = JSON.parse((await runCli(['status', '--json'], { home })).stdout);
    expect(json.tables.map((t: { partition_of: string; partitions_in_run: number }) => [t.partition_of, t.partitions_in_run]))
      .toEqual([['"Part Proofs"."Orders"', 3], ['"Part Proofs"."Orders"', 3], ['"Part Proofs"."Orders"', 3]]);
    const repack = await runCli(['repack_tables', '--debug'], { home });
    await writers.stop();
    expect(repack.code, repack.stderr).toBe(0);
    expect(repack.stderr).toMatch(/resuming the prepared copy/);
    expect(writers.errors).toEqual([]);
    expect(await catalogSnapshot(sql)).toEqual(catalogBefore);
    expect(await rpclLeftovers(sql)).toEqual([]);
    expect(await ordered(ORDERS)).toEqual(await ordered(`${S}.control`));
  });

  it('a long report through the view and a long writer transaction hold the partitioned table: the swap waits for them without an error for anyone', async () => {
    await createSchema();
    const writers = new Writers(await sessions(2));
    const [report, longWriter] = await sessions(2);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [
      `tables = ['${S}."Orders 1"']`, 'lock_timeout = "300ms"', 'swap_deadline = "60s"',
    ]));
    writers.start();
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:1000' } });
    await run.waitFor(/phase replay/);
    // The report locks the view and the parent (and its partitions) for its whole transaction;
    // the writer holds a row lock in the partition being repacked.
    await report!.query(`BEGIN; SELECT count(*) FROM ${S}.recent`);
    await longWriter!.query(`BEGIN; UPDATE ${ORDERS} SET note = 'long' WHERE id = 1; UPDATE ${S}.control SET note = 'long' WHERE id = 1`);
    await run.waitFor(/swap attempt 1\/\d+ failed/, 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    await longWriter!.query('COMMIT');
    await report!.query(`SELECT count(*) FROM ${S}.recent`);
    await report!.query('COMMIT');
    const result = await run.done;
    await writers.stop();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/swap attempt \d+\/\d+ succeeded/);
    expect(writers.errors).toEqual([]);
    expect(await ordered(ORDERS)).toEqual(await ordered(`${S}.control`));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it("the application's TRUNCATE of the partitioned table during the run reaches the copy", async () => {
    await createSchema();
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ['${S}."Orders 1"']`, 'lock_timeout = "2s"']));
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'replay:1500' } });
    await run.waitFor(/phase replay/);
    const app = await db.client();
    await app.query(`BEGIN; TRUNCATE ${ORDERS}, ${S}.control; COMMIT`);
    await app.query(`INSERT INTO ${ORDERS} SELECT g, g % 300, 1, 'after' FROM generate_series(1, 900) g`);
    await app.query(`INSERT INTO ${S}.control SELECT g, g % 300, 1, 'after' FROM generate_series(1, 900) g`);
    const result = await run.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/the application truncated the table: the copy was emptied/);
    expect((await sql.query(`SELECT count(*)::int AS n FROM ${S}."Orders 1"`)).rows[0].n).toBe(300);
    expect(await ordered(ORDERS)).toEqual(await ordered(`${S}.control`));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('a partitioned partition named in tables stands for its own leaves only', async () => {
    await sql.query(`DROP SCHEMA IF EXISTS ${S} CASCADE; DROP SCHEMA IF EXISTS rpcl CASCADE`);
    await sql.query(`
      CREATE SCHEMA ${S};
      CREATE TABLE ${S}.root (id int, day int, PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
      CREATE TABLE ${S}."Mid" PARTITION OF ${S}.root FOR VALUES FROM (0) TO (100) PARTITION BY HASH (id);
      CREATE TABLE ${S}."Mid a" PARTITION OF ${S}."Mid" FOR VALUES WITH (MODULUS 2, REMAINDER 0);
      CREATE TABLE ${S}."Mid b" PARTITION OF ${S}."Mid" FOR VALUES WITH (MODULUS 2, REMAINDER 1);
      CREATE TABLE ${S}.other PARTITION OF ${S}.root FOR VALUES FROM (100) TO (200);
      INSERT INTO ${S}.root SELECT g, g % 200 FROM generate_series(1, 4000) g;
      DELETE FROM ${S}.root WHERE id % 2 = 0;`);
    const storage = async () => new Map((await sql.query(
      `SELECT relname, oid::int8 || ':' || relfilenode AS f FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p')`, ['"Part Proofs"'],
    )).rows.map((r) => [r.relname as string, r.f as string]));
    const before = await storage();
    const treeBefore = await partitionTree(sql);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ['${S}."Mid"']`]));
    const run = await runCli(['repack_tables', '--debug'], { home });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/"Part Proofs"\.root: partition 2 of 2, "Part Proofs"\."Mid [ab]" \(0 partitions after it\)/);
    const after = await storage();
    for (const leaf of ['Mid a', 'Mid b']) expect(after.get(leaf)).not.toBe(before.get(leaf));
    for (const kept of ['root', 'Mid', 'other']) expect(after.get(kept)).toBe(before.get(kept));
    expect(await partitionTree(sql)).toEqual(treeBefore);
    expect((await sql.query(`SELECT count(*)::int AS n FROM ${S}.root`)).rows[0].n).toBe(2000);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('--dry-run names the parent the swap locks and the constraints the run adds, and changes nothing', async () => {
    await createSchema();
    const catalogBefore = await catalogSnapshot(sql);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ['${S}."Orders 2"']`]));
    const r = await runCli(['repack_tables', '--dry-run'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/partition +of "Part Proofs"\."Orders" FOR VALUES FROM \(100\) TO \(200\): the swap detaches it and attaches the copy in its place, holding ACCESS EXCLUSIVE on "Part Proofs"\."Orders"/);
    expect(r.stdout).toMatch(/ALTER TABLE "rpcl"\."copy_\d+" ADD CONSTRAINT "rpcl_bound_\d+" CHECK \(\(\(day IS NOT NULL\) AND \(day >= 100\) AND \(day < 200\)\)\)/);
    expect(r.stdout).toMatch(/ALTER TABLE "Part Proofs"\."Orders rest" ADD CONSTRAINT "rpcl_excl_\d+" CHECK \(NOT \(/);
    expect(r.stdout).toMatch(/LOCK TABLE ONLY "Part Proofs"\."Orders" IN ACCESS EXCLUSIVE MODE/);
    expect(r.stdout).toMatch(/LOCK TABLE ONLY "Part Proofs"\."Orders rest" IN ACCESS EXCLUSIVE MODE/);
    expect(r.stdout).toMatch(/ATTACH PARTITION "Part Proofs"\."Orders 2" FOR VALUES FROM \(100\) TO \(200\)/);
    expect(await catalogSnapshot(sql)).toEqual(catalogBefore);
    await sql.query(`DROP SCHEMA IF EXISTS rpcl CASCADE`);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});
