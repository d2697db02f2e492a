/**
 * repack_indexes end to end through the real binary: bloated indexes rebuilt online under
 * writers (smaller, data and schema unchanged, nothing left), the refusals, partitioned
 * indexes, a table owner without superuser, the exclusion of repack_tables, stop_repack, the
 * email and the dry run. What a failed or killed rebuild leaves, and the waits, are in
 * repack-indexes-leftovers.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { catalogSnapshot, schemaDump } from '../support/catalog.js';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig } from '../support/seed.js';
import { startSmtp } from '../support/smtp.js';
import { CONTROL, PKEY, QIDX, T, useReindexFixture } from '../support/reindex-fixture.js';

const fx = useReindexFixture('reindex');

describe('repack_indexes', () => {
  it('rebuilds bloated indexes under writers: smaller, same rows, same schema, nothing left', async () => {
    await fx.freshTable();
    // amcheck (contrib, shipped with the server): the rebuilt btrees are checked against the heap.
    await fx.sql.query(`CREATE EXTENSION IF NOT EXISTS amcheck`);
    const before = { pkey: await fx.size(PKEY), idx: await fx.size(QIDX) };
    const catalogBefore = await catalogSnapshot(fx.sql);
    const dumpBefore = await schemaDump(fx.db);
    const home = fx.config(['lock_timeout = "2s"', 'swap_attempts = 5']);
    const w = await fx.startWriters();
    await new Promise((r) => setTimeout(r, 300));
    const run = await runCli(['repack_indexes', '--debug'], { home });
    await new Promise((r) => setTimeout(r, 300));
    await fx.stopWriters();

    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/index "Idx Schema"\."Mixed Case_pkey" \(table "Idx Schema"\."Mixed Case"\): done in/);
    expect(run.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): done in .* -> /);
    expect(run.stderr).toMatch(/index "Idx Schema"\."with""quote" rebuilt in/);
    expect(w.errors).toEqual([]);
    expect(w.commits).toBeGreaterThan(50);
    // 90% of the entries went away: the rebuilt indexes are at most half their old size.
    expect(await fx.size(PKEY)).toBeLessThan(before.pkey / 2);
    expect(await fx.size(QIDX)).toBeLessThan(before.idx / 2);
    expect(await fx.checksum(T)).toBe(await fx.checksum(CONTROL));
    // The rebuilt indexes answer like the table: every row found through each of them.
    await fx.sql.query(`SET enable_seqscan = off; SET enable_bitmapscan = off`);
    const viaIndex = await fx.sql.query(`SELECT count(*)::int AS n FROM ${T} WHERE "with""quote" >= 0`);
    const viaPkey = await fx.sql.query(`SELECT count(*)::int AS n FROM ${T} WHERE id > 0`);
    await fx.sql.query(`RESET enable_seqscan; RESET enable_bitmapscan`);
    const total = await fx.sql.query(`SELECT count(*)::int AS n FROM ${CONTROL}`);
    expect([viaIndex.rows[0].n, viaPkey.rows[0].n]).toEqual([total.rows[0].n, total.rows[0].n]);
    // Every heap tuple is in each rebuilt index, and the btree invariants hold.
    for (const index of [PKEY, QIDX]) await fx.sql.query(`SELECT bt_index_check($1::regclass, true)`, [index]);
    expect(await catalogSnapshot(fx.sql)).toEqual(catalogBefore);
    expect(await schemaDump(fx.db)).toEqual(dumpBefore);
    await fx.sql.query(`DROP EXTENSION amcheck`);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
    expect(await fx.invalidIndexes()).toEqual([]);
    const { rows } = await fx.sql.query(`SELECT index_name, status, size_before > size_after AS smaller FROM rpcl.index_runs ORDER BY index_name`);
    expect(rows).toEqual([
      { index_name: 'Mixed Case_pkey', status: 'done', smaller: true },
      { index_name: 'with"quote', status: 'done', smaller: true },
    ]);
  });

  it('refuses an exclusion-constraint index and unknown names, with the reason, changing nothing', async () => {
    await fx.freshTable(1000);
    await fx.sql.query(`CREATE TABLE "Idx Schema".booking (id int PRIMARY KEY, during int4range, EXCLUDE USING gist (during WITH &&))`);
    const home = fx.config([]);
    const unknown = await runCli(['repack_indexes', '--debug', '--index', '"Idx Schema".nope', '--index', T], { home });
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/index "Idx Schema"\.nope: no such index/);
    expect(unknown.stderr).toMatch(/index "Idx Schema"\."Mixed Case": it is not an index/);
    expect(unknown.stderr).toMatch(/Nothing was done/);
    expect((await fx.sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rpcl'`)).rows).toEqual([]);
    // Before detaching into the background too: said on the terminal, nothing started.
    const background = await runCli(['repack_indexes', '--background', '--index', '"Idx Schema".nope'], { home });
    expect(background.code).toBe(5);
    expect(background.stderr).toMatch(/rpcl: seed: index "Idx Schema"\.nope: no such index/);
    expect(background.stderr).toMatch(/repack_indexes did not start: fix the above, then run it again/);
    expect(background.stdout).not.toMatch(/runs in the background/);
    expect((await fx.sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rpcl'`)).rows).toEqual([]);

    const excl = await runCli(['repack_indexes', '--debug', '--index', '"Idx Schema".booking_during_excl', '--index', PKEY], { home });
    expect(excl.code).toBe(5);
    expect(excl.stdout).toMatch(/index "Idx Schema"\.booking_during_excl \(table "Idx Schema"\.booking\): refused: it backs an exclusion constraint/);
    expect(excl.stdout).toMatch(/index "Idx Schema"\."Mixed Case_pkey" \(table "Idx Schema"\."Mixed Case"\): done/);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);

    // Over a whole schema the exclusion index is refused too, but named by nobody: exit 0.
    const all = await runCli(['repack_indexes', '--debug'], { home });
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/booking_during_excl .*refused: it backs an exclusion constraint/);
    expect(all.stdout).toMatch(/booking_pkey .*done/);
  });

  it('a partitioned index stands for its leaf indexes, each rebuilt and still attached to the parent index', async () => {
    await fx.freshTable(1000);
    await fx.sql.query(`CREATE TABLE "Idx Schema".parted (id int, k int, PRIMARY KEY (id, k)) PARTITION BY RANGE (k)`);
    await fx.sql.query(`CREATE TABLE "Idx Schema"."Part One" PARTITION OF "Idx Schema".parted FOR VALUES FROM (0) TO (100)`);
    await fx.sql.query(`CREATE TABLE "Idx Schema".part_two PARTITION OF "Idx Schema".parted FOR VALUES FROM (100) TO (200)`);
    await fx.sql.query(`INSERT INTO "Idx Schema".parted SELECT g, g % 200 FROM generate_series(1, 20000) g`);
    await fx.sql.query(`DELETE FROM "Idx Schema".parted WHERE id % 5 <> 0`);
    await fx.sql.query(`VACUUM "Idx Schema".parted`);
    const oids = async () =>
      (await fx.sql.query(`SELECT relid::regclass::text AS name, relid::int8 AS oid FROM pg_partition_tree('"Idx Schema".parted_pkey') WHERE isleaf ORDER BY 1`)).rows;
    const before = await oids();
    const catalogBefore = await catalogSnapshot(fx.sql);
    const home = fx.config([]);
    const run = await runCli(['repack_indexes', '--debug', '--index', '"Idx Schema".parted_pkey'], { home });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/index "Idx Schema"\."Part One_pkey" \(table "Idx Schema"\."Part One"\): done/);
    expect(run.stdout).toMatch(/index "Idx Schema"\.part_two_pkey \(table "Idx Schema"\.part_two\): done/);
    expect(run.stdout).not.toMatch(/Mixed Case/);
    const after = await oids();
    // Same names in the partition tree of the parent index, new indexes under them.
    expect(after.map((r) => r.name)).toEqual(before.map((r) => r.name));
    expect(after.map((r) => r.oid)).not.toContain(before[0].oid);
    expect(await catalogSnapshot(fx.sql)).toEqual(catalogBefore);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
  });

  it('excludes repack_tables on the same table, and stop_repack stops it cleanly', async () => {
    await fx.freshTable(20_000);
    const holder = await fx.session('holder');
    await holder.query(`BEGIN; UPDATE ${T} SET payload = 'held' WHERE id = 10`);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(fx.db, ['tables = [\'"Idx Schema"."Mixed Case"\']', 'lock_timeout = "60s"']));
    fx.running = spawnCli(['repack_indexes', '--foreground', '--index', QIDX], { home });
    const waiting = async () =>
      (await fx.sql.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rpcl reindex' AND wait_event_type = 'Lock'`)).rows.length > 0;
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
      (await fx.sql.query(
        `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'rpcl reindex' AND query ILIKE 'DROP INDEX CONCURRENTLY%'`,
      )).rows.length > 0;
    for (let i = 0; i < 600 && !(await dropping()); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await dropping(), 'the stopped rebuild drops its leftover').toBe(true);
    await holder.query('COMMIT');
    const stop = await stopping;
    const result = await fx.running.done;
    fx.running = undefined;
    expect(stop.code, stop.stdout + stop.stderr).toBe(0);
    expect(stop.stdout).toMatch(/repack_indexes \(pid \d+\) stopped/);
    expect(result.code).toBe(130);
    expect(result.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): stopped: stopped on request; removed INVALID index "Idx Schema"\."with""quote_ccnew"/);
    expect(await fx.invalidIndexes()).toEqual([]);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
  });

  it("as a table owner without superuser: its own tables' indexes rebuilt, another owner's refused with the reason", async () => {
    await fx.freshTable(5000);
    await fx.sql.query(`DO $$ BEGIN CREATE ROLE ri_owner LOGIN PASSWORD 'ri-pass'; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await fx.sql.query(`DO $$ BEGIN CREATE ROLE "RI Other"; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    await fx.sql.query(`GRANT CREATE ON DATABASE "${fx.db.database}" TO ri_owner; GRANT USAGE ON SCHEMA "Idx Schema" TO ri_owner`);
    await fx.sql.query(`ALTER TABLE ${T} OWNER TO ri_owner`);
    await fx.sql.query(`CREATE TABLE "Idx Schema".theirs (id int PRIMARY KEY); ALTER TABLE "Idx Schema".theirs OWNER TO "RI Other"`);
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig({ ...fx.db, user: 'ri_owner', password: 'ri-pass' }, ['schemas = ["Idx Schema"]']));
    const run = await runCli(['repack_indexes', '--debug', '--index', QIDX, '--index', '"Idx Schema".theirs_pkey'], { home });
    expect(run.code, run.stderr).toBe(5);
    expect(run.stdout).toMatch(/index "Idx Schema"\.theirs_pkey \(table "Idx Schema"\.theirs\): refused: its table is owned by "RI Other": REINDEX needs the owner/);
    expect(run.stdout).toMatch(/index "Idx Schema"\."with""quote" \(table "Idx Schema"\."Mixed Case"\): done/);
    expect(await rpclLeftovers(fx.sql)).toEqual([]);
    await fx.sql.query(`DROP SCHEMA rpcl CASCADE; DROP TABLE "Idx Schema".theirs; ALTER TABLE ${T} OWNER TO CURRENT_USER`);
    await fx.sql.query(`REVOKE ALL ON DATABASE "${fx.db.database}" FROM ri_owner`);
  });

  it('mails the report per index: sizes, durations, refusals', async () => {
    await fx.freshTable(20_000);
    await fx.sql.query(`CREATE TABLE "Idx Schema".booking (id int PRIMARY KEY, during int4range, EXCLUDE USING gist (during WITH &&))`);
    const smtp = await startSmtp('none');
    const home = makeHome();
    writeConfig(home, 'default', [
      '[notifier]', 'enable_email = true',
      '[notifier.email]', 'mailfrom = "rpcl@example.com"', 'mailto = ["dba@example.com"]',
      'smtp_server = "localhost"', `smtp_port = ${smtp.port}`, 'smtp_ssl = "none"',
      connectionConfig(fx.db, ['schemas = ["Idx Schema"]']),
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
    await fx.freshTable(1000);
    const home = fx.config(['indexes = [\'"Idx Schema"."with""quote"\']']);
    const run = await runCli(['repack_indexes', '--dry-run'], { home });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('REINDEX INDEX CONCURRENTLY "Idx Schema"."with""quote";');
    expect(run.stdout).not.toContain('Mixed Case_pkey');
    expect((await fx.sql.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'rpcl'`)).rows).toEqual([]);
  });
});
