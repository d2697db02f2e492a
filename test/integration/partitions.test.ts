/**
 * Issue 12: repacking partitions online. A leaf partition named in `tables` is rewritten and put
 * back in its parent under the same name with the same bound; a partitioned table named in
 * `tables` has each of its leaves (at every level) repacked in turn. Each run happens under
 * writers that insert across partitions, update, delete and move rows between partitions by
 * changing the partition key (into and out of the leaf being repacked), each transaction
 * mirroring its effect into a plain control table, and readers on the parent (through a view
 * and directly) and on the partition. After the run: data equal to the control copy, the
 * catalog snapshot, the partition tree and pg_dump (where Debian's pg_dump can dump the server)
 * identical, every repacked leaf rewritten, no ATTACH reading rows under the swap's locks, no
 * application error, no leftovers. A leaf of a referenced partitioned table cannot be done with
 * bounded locks, nor a leaf of a partitioned table that has a foreign key: refused up front,
 * changing nothing, under the same load. A leaf beside a DEFAULT partition is repacked.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type CliResult, makeHome, runCli, writeConfig } from '../support/cli.js';
import { catalogSnapshot, schemaDump } from '../support/catalog.js';
import { type TestDatabase, useFreshDatabases } from '../support/db.js';
import { type KeyedFixture, KeyedWorkload, tableChecksum } from '../support/keyed-workload.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { type LeafStorage, leavesOf, partitionTree, ReadLoops, type ReadUnit, storageOfAll } from '../support/partitions.js';
import { connectionConfig, sessionAs } from '../support/seed.js';

const fresh = useFreshDatabases();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function configFor(d: TestDatabase, table: string): string {
  const home = makeHome();
  writeConfig(home, 'default', connectionConfig(d, [`tables = ['${table}']`, 'lock_timeout = "1s"', 'check_time = 1']));
  return home;
}

async function oidOf(sql: pg.Client, name: string): Promise<number> {
  return Number((await sql.query(`SELECT $1::regclass::oid::int8 AS oid`, [name])).rows[0].oid);
}

function lastLines(text: string, n = 40): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

/** Roles belong to the server: created once, whichever test comes first. */
const role = (name: string) => `DO $$ BEGIN CREATE ROLE ${name}; EXCEPTION WHEN duplicate_object THEN NULL; END $$;`;

/** Timestamps in whole seconds: they round-trip through JavaScript Dates exactly. */
const BASE = `timestamptz '2024-01-01 00:00:00+00'`;
const BASE_MS = Date.UTC(2024, 0, 1);
/** January to April 2024, in seconds. */
const SPAN = 121 * 86400 - 1;
const randomTs = (rand: () => number) => new Date(BASE_MS + Math.floor(rand() * SPAN) * 1000).toISOString();

interface Before {
  catalog: string[];
  dump: string | null;
  tree: string[];
  leaves: LeafStorage[];
}

async function snapshot(d: TestDatabase, sql: pg.Client, root: string): Promise<Before> {
  return { catalog: await catalogSnapshot(sql), dump: await schemaDump(d), tree: await partitionTree(sql), leaves: await leavesOf(sql, root) };
}

interface LoadedRun {
  result: CliResult;
  output: string;
  workload: KeyedWorkload;
  reads: ReadLoops;
  commitsDuringRun: number;
  readsDuringRun: number;
}

/**
 * Runs rpcl on `target` while writers (KeyedWorkload on `fixture`) and readers work, starting
 * them before and stopping them after the run. The copy and replay pauses keep the run long
 * enough for them to overlap every phase (capture before the copy snapshot, replay, swap).
 */
async function runUnderLoad(
  d: TestDatabase,
  target: string,
  fixture: KeyedFixture,
  readers: ReadUnit[],
  seed: number,
): Promise<LoadedRun> {
  const writerClients = await Promise.all([1, 2, 3].map((i) => sessionAs(d, `app writer ${i}`)));
  const readerClients = await Promise.all(readers.map((_, i) => sessionAs(d, `app reader ${i + 1}`)));
  const workload = new KeyedWorkload(fixture, writerClients, seed);
  const reads = new ReadLoops(readerClients, readers, seed);
  workload.start();
  reads.start();
  let result: CliResult = { code: -1, stdout: '', stderr: '' };
  let commitsDuringRun = 0;
  let readsDuringRun = 0;
  try {
    await sleep(400);
    const commits = workload.commits;
    const units = reads.units;
    result = await runCli(['repack_tables', '--debug'], { home: configFor(d, target), env: { RPCL_TEST_PAUSE: 'copy:500,replay:1500' } });
    commitsDuringRun = workload.commits - commits;
    readsDuringRun = reads.units - units;
    await sleep(400);
  } finally {
    await Promise.all([workload.stop(), reads.stop()]);
    await Promise.all([...writerClients, ...readerClients].map((c) => c.end().catch(() => undefined)));
  }
  return { result, output: result.stdout + result.stderr, workload, reads, commitsDuringRun, readsDuringRun };
}

/** What every run under load must show, whatever the partitioning. */
async function expectCleanRun(
  d: TestDatabase,
  sql: pg.Client,
  run: LoadedRun,
  before: Before,
  data: { table: string; control: string; keys: string[] },
): Promise<void> {
  const swaps = run.output.split('\n').filter((l) => /swap under lock/.test(l));
  // What the server said about each ATTACH (rpcl runs it at client_min_messages debug1 and logs it).
  const said = run.output.split('\n').filter((l) => /implied by existing constraints|verifying table|validating foreign key constraint/.test(l));
  console.log(JSON.stringify({
    exit: run.result.code, commitsDuringRun: run.commitsDuringRun, readsDuringRun: run.readsDuringRun,
    readersWorstMs: Math.round(run.reads.worstMs), swaps: swaps.map((l) => l.replace(/^.*?swap under lock/, 'swap under lock').slice(0, 240)),
    serverOnAttach: said.map((l) => l.replace(/^.*?\] /, '').slice(0, 200)),
  }, null, 1));
  expect(run.result.code, `rpcl exit code; output:\n${lastLines(run.output)}`).toBe(0);
  expect.soft(run.workload.unexpected, 'errors the writers saw').toEqual([]);
  expect.soft(run.reads.errors, 'errors the readers saw').toEqual([]);
  expect.soft(run.commitsDuringRun, 'writer transactions committed during the run').toBeGreaterThan(50);
  expect.soft(run.readsDuringRun, 'reads completed during the run').toBeGreaterThan(50);
  expect.soft(swaps.length, "the run printed its swaps' lock hold").toBeGreaterThan(0);
  // No scan under the swap's locks: every ATTACH found the bound implied by the copy's CHECK
  // constraint, and validated no foreign key and no default partition by reading rows.
  expect.soft(said.filter((l) => /verifying table|validating foreign key constraint/.test(l)), 'ATTACH read rows under the locks').toEqual([]);
  expect.soft(said.filter((l) => /partition constraint for table .* is implied by existing constraints/.test(l)).length,
    'the server said, for each swap, that the partition constraint was implied').toBe(swaps.length);
  expect.soft(await tableChecksum(sql, data.table, data.keys), 'partitioned table = control').toEqual(
    await tableChecksum(sql, data.control, data.keys),
  );
  expect.soft(await rpclLeftovers(sql), 'leftovers').toEqual([]);
  expect.soft(await partitionTree(sql), 'partition tree').toEqual(before.tree);
  expect.soft(await catalogSnapshot(sql), 'catalog snapshot').toEqual(before.catalog);
  expect.soft(await schemaDump(d), 'pg_dump --schema-only').toEqual(before.dump);
}

/** Leaves rewritten (new OID and relfilenode, same parent and bound) or untouched, by name. */
function expectLeaves(before: LeafStorage[], after: LeafStorage[], rewritten: string[]): void {
  expect(after.map((l) => l.name)).toEqual(before.map((l) => l.name));
  for (const b of before) {
    const a = after.find((l) => l.name === b.name)!;
    expect.soft(a.attachment, `${b.name}: parent and bound`).toBe(b.attachment);
    if (rewritten.includes(b.name)) {
      expect.soft(a.relfilenode, `${b.name} rewritten (relfilenode)`).not.toBe(b.relfilenode);
      expect.soft(a.oid, `${b.name} replaced (oid)`).not.toBe(b.oid);
    } else {
      expect.soft(a.relfilenode, `${b.name} untouched (relfilenode)`).toBe(b.relfilenode);
      expect.soft(a.oid, `${b.name} untouched (oid)`).toBe(b.oid);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// (1) range partitioning, quoted names, one leaf with its own index and triggers

const EVENTS = '"Part Schema"."Events"';
const EV1 = '"Part Schema"."Ev 1"';

const rangeSchema = `
  ${role('part_auditor')}
  CREATE SCHEMA "Part Schema";
  CREATE SEQUENCE "Part Schema".ev_id_seq;
  CREATE TABLE ${EVENTS} (
    id bigint NOT NULL DEFAULT nextval('"Part Schema".ev_id_seq'),
    ts timestamptz NOT NULL,
    "Kind" text NOT NULL,
    v int NOT NULL,
    payload text,
    touched int NOT NULL DEFAULT 0,
    own_hits int NOT NULL DEFAULT 0,
    PRIMARY KEY (id, ts)
  ) PARTITION BY RANGE (ts);
  CREATE TABLE ${EV1} PARTITION OF ${EVENTS} FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00');
  CREATE TABLE "Part Schema".ev_2 PARTITION OF ${EVENTS} FOR VALUES FROM ('2024-02-01 00:00:00+00') TO ('2024-03-01 00:00:00+00');
  CREATE TABLE "Part Schema"."EV_3" PARTITION OF ${EVENTS} FOR VALUES FROM ('2024-03-01 00:00:00+00') TO ('2024-04-01 00:00:00+00');
  CREATE TABLE "Part Schema".ev_4 PARTITION OF ${EVENTS} FOR VALUES FROM ('2024-04-01 00:00:00+00') TO ('2024-05-01 00:00:00+00');
  -- A partitioned secondary index on the parent, and an index of January's own.
  CREATE INDEX "Events by kind" ON ${EVENTS} ("Kind", v);
  CREATE INDEX "Ev 1 payload" ON ${EV1} (payload text_pattern_ops);
  COMMENT ON INDEX "Part Schema"."Ev 1 payload" IS 'only January';
  COMMENT ON INDEX "Part Schema"."Ev 1_pkey" IS 'January''s key';
  COMMENT ON TABLE ${EV1} IS 'January';
  COMMENT ON COLUMN ${EV1}.v IS 'value in January';
  GRANT SELECT, UPDATE ON ${EV1} TO part_auditor;
  GRANT SELECT (payload) ON ${EV1} TO PUBLIC;
  -- A row trigger on the parent (cloned onto every partition) and January's own: both change
  -- the row, so one that fired during copy or replay would make the data differ from the control.
  CREATE FUNCTION "Part Schema".touch() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END $$;
  CREATE TRIGGER "Events touch" BEFORE INSERT OR UPDATE ON ${EVENTS} FOR EACH ROW EXECUTE FUNCTION "Part Schema".touch();
  CREATE FUNCTION "Part Schema".own_hit() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.own_hits := NEW.own_hits + 1; RETURN NEW; END $$;
  CREATE TRIGGER "Ev 1 own" BEFORE UPDATE ON ${EV1} FOR EACH ROW EXECUTE FUNCTION "Part Schema".own_hit();
  ALTER TABLE ${EV1} ENABLE ALWAYS TRIGGER "Ev 1 own";
  COMMENT ON TRIGGER "Ev 1 own" ON ${EV1} IS 'counts updates in January';
  CREATE FUNCTION "Part Schema".must_not_fire() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'disabled trigger fired on %', TG_TABLE_NAME; END $$;
  CREATE TRIGGER ev_1_disabled AFTER INSERT OR UPDATE OR DELETE ON ${EV1} FOR EACH ROW EXECUTE FUNCTION "Part Schema".must_not_fire();
  ALTER TABLE ${EV1} DISABLE TRIGGER ev_1_disabled;
  CREATE VIEW "Part Schema"."Events View" AS SELECT id, ts, "Kind", v FROM ${EVENTS};
  -- 80,000 rows over four months, then half of them deleted: bloat in every partition.
  INSERT INTO ${EVENTS} (ts, "Kind", v, payload)
    SELECT ${BASE} + g * 130 * interval '1 second', (ARRAY['click', 'view', 'buy'])[1 + g % 3], g % 1000, repeat(md5(g::text), 3)
    FROM generate_series(1, 80000) g;
  DELETE FROM ${EVENTS} WHERE id % 2 = 0;
  CREATE TABLE public.events_control (LIKE ${EVENTS});
  ALTER TABLE public.events_control ADD PRIMARY KEY (id, ts);
  -- In no particular order, so the writers' picks (the control's first rows) span all months.
  INSERT INTO public.events_control SELECT * FROM ${EVENTS} ORDER BY md5(id::text);`;

const eventsFixture: KeyedFixture = {
  table: EVENTS,
  control: 'public.events_control',
  keys: ['id', 'ts'],
  insert: `INSERT INTO ${EVENTS} (ts, "Kind", v, payload)
    VALUES (${BASE} + ($1::int % ${SPAN}) * interval '1 second', 'new', $1::int % 1000, md5($1::text)) RETURNING id, ts`,
  upsert: `INSERT INTO ${EVENTS} AS e (id, ts, "Kind", v, payload)
    VALUES (900000000 + $1::int % 300, ${BASE} + ($1::int % 300) * interval '9 hours', 'up', 1, 'up')
    ON CONFLICT (id, ts) DO UPDATE SET v = e.v + 1 RETURNING id, ts`,
  update: `UPDATE ${EVENTS} SET v = $3::int % 1000, payload = md5($3::text) WHERE id = $1 AND ts = $2`,
  remove: `DELETE FROM ${EVENTS} WHERE id = $1 AND ts = $2`,
  // The partition key: the row moves to the month its new ts falls in (into or out of January).
  changeKey: `UPDATE ${EVENTS} SET ts = ${BASE} + floor(random() * ${SPAN})::int * interval '1 second'
    WHERE id = $1 AND ts = $2 RETURNING id, ts`,
};

const eventsReaders: ReadUnit[] = [
  // Through the view on the parent.
  async (q, rand) => {
    await q(`SELECT count(*), sum(v) FROM "Part Schema"."Events View" WHERE ts >= $1 AND ts < $1::timestamptz + interval '6 hours'`, [
      randomTs(rand),
    ]);
  },
  // The parent directly, as a prepared statement (its plan names the partitions).
  async (q, rand) => {
    await q(`SELECT id, ts, v, touched FROM ${EVENTS} WHERE id = $1`, [1 + Math.floor(rand() * 80000)], 'events_by_id');
  },
  // A transaction: the view, then the parent.
  async (q, rand) => {
    const ts = randomTs(rand);
    await q('BEGIN');
    await q(`SELECT count(*) FROM "Part Schema"."Events View" WHERE "Kind" = 'buy' AND ts >= $1 AND ts < $1::timestamptz + interval '1 day'`, [ts]);
    await q(`SELECT max(v), count(*) FROM ${EVENTS} WHERE ts >= $1 AND ts < $1::timestamptz + interval '1 day'`, [ts]);
    await q('COMMIT');
  },
  // January directly, prepared.
  async (q, rand) => {
    await q(`SELECT v, payload FROM ${EV1} WHERE id = $1`, [1 + Math.floor(rand() * 20000)], 'january_by_id');
  },
];

async function partitionDetails(sql: pg.Client, partition: string) {
  const indexes = await sql.query(
    `SELECT c.relname AS index, coalesce(p.relname, '-') AS parent, obj_description(c.oid, 'pg_class') AS comment
     FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
     LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent
     WHERE x.indrelid = $1::regclass ORDER BY 1`,
    [partition],
  );
  const triggers = await sql.query(
    `SELECT t.tgname AS trigger, t.tgenabled::text AS enabled, coalesce(p.tgrelid::regclass::text, '-') AS "clonedFrom"
     FROM pg_trigger t LEFT JOIN pg_trigger p ON p.oid = t.tgparentid
     WHERE t.tgrelid = $1::regclass AND t.tgconstraint = 0 ORDER BY 1`,
    [partition],
  );
  const table = await sql.query(
    `SELECT obj_description(c.oid, 'pg_class') AS comment,
            col_description(c.oid, (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = 'v')) AS "vComment",
            has_table_privilege('part_auditor', c.oid, 'UPDATE') AS "auditorUpdates",
            has_column_privilege('public', c.oid, 'payload', 'SELECT') AS "publicReadsPayload"
     FROM pg_class c WHERE c.oid = $1::regclass`,
    [partition],
  );
  return { indexes: indexes.rows, triggers: triggers.rows, table: table.rows[0] };
}

describe('repacking one leaf partition', () => {
  it('range partitioning, quoted names: "Ev 1" is rewritten under writers that move rows in and out, everything about it kept', async () => {
    const { db: d, sql } = await fresh('part_range', rangeSchema);
    const before = await snapshot(d, sql, EVENTS);
    const details = await partitionDetails(sql, EV1);
    // The fixture is what the test means it to be.
    expect(details.indexes).toEqual([
      { index: 'Ev 1 payload', parent: '-', comment: 'only January' },
      { index: 'Ev 1_Kind_v_idx', parent: 'Events by kind', comment: null },
      { index: 'Ev 1_pkey', parent: 'Events_pkey', comment: "January's key" },
    ]);
    expect(details.triggers).toEqual([
      { trigger: 'Ev 1 own', enabled: 'A', clonedFrom: '-' },
      { trigger: 'Events touch', enabled: 'O', clonedFrom: '"Part Schema"."Events"' },
      { trigger: 'ev_1_disabled', enabled: 'D', clonedFrom: '-' },
    ]);
    expect(details.table).toEqual({ comment: 'January', vComment: 'value in January', auditorUpdates: true, publicReadsPayload: true });

    const run = await runUnderLoad(d, EV1, eventsFixture, eventsReaders, 12);
    await expectCleanRun(d, sql, run, before, { table: EVENTS, control: eventsFixture.control, keys: eventsFixture.keys });

    const after = await leavesOf(sql, EVENTS);
    expectLeaves(before.leaves, after, ['"Part Schema"."Ev 1"']);
    const jan = (l: LeafStorage[]) => l.find((x) => x.name === '"Part Schema"."Ev 1"')!;
    expect.soft(jan(after).bytes, 'January is compact after the repack').toBeLessThan(jan(before.leaves).bytes);
    expect.soft(await partitionDetails(sql, EV1), "January's indexes, triggers, comments and grants").toEqual(details);

    // The new January takes rows through the parent, and its triggers fire as before.
    const row = await sql.query(
      `INSERT INTO ${EVENTS} (ts, "Kind", v) VALUES ('2024-01-15 12:00:00+00', 'probe', 1) RETURNING tableoid::regclass::text AS part, id, ts`,
    );
    expect.soft(row.rows[0].part).toBe('"Part Schema"."Ev 1"');
    const updated = await sql.query(`UPDATE ${EVENTS} SET v = 2 WHERE id = $1 AND ts = $2 RETURNING touched, own_hits`, [
      row.rows[0].id, row.rows[0].ts,
    ]);
    expect.soft(updated.rows, "the parent's trigger and January's own fired once each, the disabled one not at all").toEqual([
      { touched: 2, own_hits: 1 },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// (2) list partitioning with a DEFAULT partition: the default partition is repacked

const ORDERS = '"Part Schema".orders';
const OTHER = '"Part Schema"."Orders Other"';
const REGIONS = `ARRAY['eu', 'us', 'apac', 'latam', 'mea']`;

const listSchema = `
  CREATE SCHEMA "Part Schema";
  CREATE SEQUENCE "Part Schema".orders_id_seq;
  CREATE TABLE ${ORDERS} (
    id bigint NOT NULL DEFAULT nextval('"Part Schema".orders_id_seq'),
    region text NOT NULL,
    amount int NOT NULL,
    note text,
    PRIMARY KEY (id, region)
  ) PARTITION BY LIST (region);
  CREATE TABLE "Part Schema".orders_eu PARTITION OF ${ORDERS} FOR VALUES IN ('eu');
  CREATE TABLE "Part Schema".orders_us PARTITION OF ${ORDERS} FOR VALUES IN ('us');
  CREATE TABLE ${OTHER} PARTITION OF ${ORDERS} DEFAULT;
  CREATE INDEX orders_amount ON ${ORDERS} (amount);
  COMMENT ON TABLE ${OTHER} IS 'the rest of the world';
  CREATE VIEW "Part Schema".big_orders AS SELECT id, region, amount FROM ${ORDERS} WHERE amount > 500;
  INSERT INTO ${ORDERS} (region, amount, note)
    SELECT (${REGIONS})[1 + g % 5], g % 1000, repeat(md5(g::text), 2) FROM generate_series(1, 60000) g;
  DELETE FROM ${ORDERS} WHERE id % 2 = 0;
  CREATE TABLE public.orders_control (LIKE ${ORDERS});
  ALTER TABLE public.orders_control ADD PRIMARY KEY (id, region);
  INSERT INTO public.orders_control SELECT * FROM ${ORDERS} ORDER BY md5(id::text);`;

const ordersFixture: KeyedFixture = {
  table: ORDERS,
  control: 'public.orders_control',
  keys: ['id', 'region'],
  insert: `INSERT INTO ${ORDERS} (region, amount, note) VALUES ((${REGIONS})[1 + $1::int % 5], $1::int % 1000, 'new') RETURNING id, region`,
  upsert: `INSERT INTO ${ORDERS} AS o (id, region, amount, note) VALUES (900000000 + $1::int % 300, (${REGIONS})[1 + $1::int % 5], 1, 'up')
    ON CONFLICT (id, region) DO UPDATE SET amount = o.amount + 1 RETURNING id, region`,
  update: `UPDATE ${ORDERS} SET amount = $3::int % 1000, note = 'u' || $3 WHERE id = $1 AND region = $2`,
  remove: `DELETE FROM ${ORDERS} WHERE id = $1 AND region = $2`,
  // Into or out of the default partition, or between the listed ones.
  changeKey: `UPDATE ${ORDERS} SET region = (${REGIONS})[1 + floor(random() * 5)::int] WHERE id = $1 AND region = $2 RETURNING id, region`,
};

const ordersReaders: ReadUnit[] = [
  async (q, rand) => {
    await q(`SELECT count(*) FROM "Part Schema".big_orders WHERE id BETWEEN $1 AND $1 + 100`, [Math.floor(rand() * 60000)]);
  },
  async (q, rand) => {
    await q(`SELECT amount FROM ${ORDERS} WHERE id = $1`, [Math.floor(rand() * 60000)], 'orders_by_id');
  },
  async (q, rand) => {
    await q(`SELECT sum(amount) FROM ${ORDERS} WHERE region = $1 AND id < $2`, [['apac', 'latam', 'mea', 'eu'][Math.floor(rand() * 4)], 3000]);
  },
];

describe('repacking the default partition', () => {
  it('list partitioning: the DEFAULT partition is rewritten under writers moving rows in and out of it, and stays the default', async () => {
    const { db: d, sql } = await fresh('part_default', listSchema);
    const before = await snapshot(d, sql, ORDERS);
    const run = await runUnderLoad(d, OTHER, ordersFixture, ordersReaders, 22);
    await expectCleanRun(d, sql, run, before, { table: ORDERS, control: ordersFixture.control, keys: ordersFixture.keys });
    const after = await leavesOf(sql, ORDERS);
    expectLeaves(before.leaves, after, ['"Part Schema"."Orders Other"']);
    const bound = await sql.query(`SELECT pg_get_expr(relpartbound, oid) AS bound FROM pg_class WHERE oid = $1::regclass`, [OTHER]);
    expect.soft(bound.rows).toEqual([{ bound: 'DEFAULT' }]);
    const def = await sql.query(`SELECT partdefid::regclass::text AS def FROM pg_partitioned_table WHERE partrelid = $1::regclass`, [ORDERS]);
    expect.soft(def.rows, "the parent's default partition").toEqual([{ def: '"Part Schema"."Orders Other"' }]);
    const routed = await sql.query(`INSERT INTO ${ORDERS} (region, amount) VALUES ('antarctica', 1) RETURNING tableoid::regclass::text AS part`);
    expect.soft(routed.rows).toEqual([{ part: '"Part Schema"."Orders Other"' }]);
  });
});

// ---------------------------------------------------------------------------------------------
// (3) hash partitioning: the parent is named, every leaf is repacked

const SESSIONS = '"Part Schema"."Sessions"';

const hashSchema = `
  CREATE SCHEMA "Part Schema";
  CREATE SEQUENCE "Part Schema".sessions_id_seq;
  CREATE TABLE ${SESSIONS} (
    id bigint NOT NULL DEFAULT nextval('"Part Schema".sessions_id_seq') PRIMARY KEY,
    user_id int NOT NULL,
    v int NOT NULL,
    note text
  ) PARTITION BY HASH (id);
  CREATE TABLE "Part Schema".sessions_0 PARTITION OF ${SESSIONS} FOR VALUES WITH (MODULUS 4, REMAINDER 0);
  CREATE TABLE "Part Schema".sessions_1 PARTITION OF ${SESSIONS} FOR VALUES WITH (MODULUS 4, REMAINDER 1);
  CREATE TABLE "Part Schema"."Sessions 2" PARTITION OF ${SESSIONS} FOR VALUES WITH (MODULUS 4, REMAINDER 2);
  CREATE TABLE "Part Schema".sessions_3 PARTITION OF ${SESSIONS} FOR VALUES WITH (MODULUS 4, REMAINDER 3);
  CREATE INDEX sessions_user ON ${SESSIONS} (user_id);
  INSERT INTO ${SESSIONS} (user_id, v, note) SELECT g % 5000, g % 1000, repeat(md5(g::text), 2) FROM generate_series(1, 60000) g;
  DELETE FROM ${SESSIONS} WHERE id % 3 <> 0;
  CREATE TABLE public.sessions_control (LIKE ${SESSIONS});
  ALTER TABLE public.sessions_control ADD PRIMARY KEY (id);
  INSERT INTO public.sessions_control SELECT * FROM ${SESSIONS} ORDER BY md5(id::text);`;

const sessionsFixture: KeyedFixture = {
  table: SESSIONS,
  control: 'public.sessions_control',
  keys: ['id'],
  insert: `INSERT INTO ${SESSIONS} (user_id, v, note) VALUES ($1::int % 5000, $1::int % 1000, 'new') RETURNING id`,
  upsert: `INSERT INTO ${SESSIONS} AS s (id, user_id, v) VALUES (900000000 + $1::int % 300, 1, 1)
    ON CONFLICT (id) DO UPDATE SET v = s.v + 1 RETURNING id`,
  update: `UPDATE ${SESSIONS} SET v = $2::int % 1000, note = 'u' || $2 WHERE id = $1`,
  remove: `DELETE FROM ${SESSIONS} WHERE id = $1`,
  // A new id hashes to any partition: the row moves.
  changeKey: `UPDATE ${SESSIONS} SET id = nextval('"Part Schema".sessions_id_seq') WHERE id = $1 RETURNING id`,
};

const sessionsReaders: ReadUnit[] = [
  async (q, rand) => {
    await q(`SELECT count(*), max(v) FROM ${SESSIONS} WHERE user_id = $1`, [Math.floor(rand() * 5000)], 'sessions_by_user');
  },
  async (q, rand) => {
    await q(`SELECT v FROM ${SESSIONS} WHERE id = $1`, [Math.floor(rand() * 60000)]);
  },
];

describe('repacking a partitioned table', () => {
  it('hash partitioning: naming the parent repacks every leaf in turn, data equal under writers moving rows', async () => {
    const { db: d, sql } = await fresh('part_hash', hashSchema);
    const before = await snapshot(d, sql, SESSIONS);
    const parentOid = await oidOf(sql, SESSIONS);
    expect(before.leaves).toHaveLength(4);
    const run = await runUnderLoad(d, SESSIONS, sessionsFixture, sessionsReaders, 33);
    await expectCleanRun(d, sql, run, before, { table: SESSIONS, control: sessionsFixture.control, keys: sessionsFixture.keys });
    const after = await leavesOf(sql, SESSIONS);
    expectLeaves(before.leaves, after, before.leaves.map((l) => l.name));
    expect.soft(run.output.split('\n').filter((l) => /swap under lock/.test(l)), 'one swap per leaf').toHaveLength(4);
    expect.soft(await oidOf(sql, SESSIONS), 'the parent itself is kept').toBe(parentOid);
  });
});

// ---------------------------------------------------------------------------------------------
// (4) two levels: range over time, 2024 itself list-partitioned by kind

const METRICS = '"Part Schema".metrics';
const MIDDLE = '"Part Schema".m_2024';

const twoLevelSchema = `
  CREATE SCHEMA "Part Schema";
  CREATE SEQUENCE "Part Schema".metrics_id_seq;
  CREATE TABLE ${METRICS} (
    id bigint NOT NULL DEFAULT nextval('"Part Schema".metrics_id_seq'),
    ts timestamptz NOT NULL,
    kind text NOT NULL,
    v int NOT NULL,
    touched int NOT NULL DEFAULT 0,
    PRIMARY KEY (id, ts, kind)
  ) PARTITION BY RANGE (ts);
  CREATE TABLE "Part Schema".m_2023 PARTITION OF ${METRICS} FOR VALUES FROM ('2023-01-01 00:00:00+00') TO ('2024-01-01 00:00:00+00');
  CREATE TABLE ${MIDDLE} PARTITION OF ${METRICS} FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00')
    PARTITION BY LIST (kind);
  CREATE TABLE "Part Schema"."m_2024 a" PARTITION OF ${MIDDLE} FOR VALUES IN ('a');
  CREATE TABLE "Part Schema".m_2024_b PARTITION OF ${MIDDLE} FOR VALUES IN ('b');
  CREATE INDEX metrics_v ON ${METRICS} (v);
  CREATE FUNCTION "Part Schema".touch() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END $$;
  CREATE TRIGGER metrics_touch BEFORE INSERT OR UPDATE ON ${METRICS} FOR EACH ROW EXECUTE FUNCTION "Part Schema".touch();
  CREATE VIEW "Part Schema".metrics_view AS SELECT id, ts, kind, v FROM ${METRICS};
  -- 2023 and 2024, kinds a and b.
  INSERT INTO ${METRICS} (ts, kind, v)
    SELECT timestamptz '2023-01-01 00:00:00+00' + g * 1050 * interval '1 second', CASE WHEN g % 3 = 0 THEN 'b' ELSE 'a' END, g % 1000
    FROM generate_series(1, 60000) g;
  DELETE FROM ${METRICS} WHERE id % 2 = 0;
  CREATE TABLE public.metrics_control (LIKE ${METRICS});
  ALTER TABLE public.metrics_control ADD PRIMARY KEY (id, ts, kind);
  INSERT INTO public.metrics_control SELECT * FROM ${METRICS} ORDER BY md5(id::text);`;

/** 2023 and 2024, in seconds. */
const TWO_YEARS = 731 * 86400 - 1;
const BASE_2023 = `timestamptz '2023-01-01 00:00:00+00'`;

const metricsFixture: KeyedFixture = {
  table: METRICS,
  control: 'public.metrics_control',
  keys: ['id', 'ts', 'kind'],
  insert: `INSERT INTO ${METRICS} (ts, kind, v)
    VALUES (${BASE_2023} + ($1::int % ${TWO_YEARS}) * interval '1 second', CASE WHEN $1::int % 2 = 0 THEN 'a' ELSE 'b' END, $1::int % 1000)
    RETURNING id, ts, kind`,
  upsert: `INSERT INTO ${METRICS} AS m (id, ts, kind, v)
    VALUES (900000000 + $1::int % 300, ${BASE_2023} + ($1::int % 300) * interval '2 days', 'a', 1)
    ON CONFLICT (id, ts, kind) DO UPDATE SET v = m.v + 1 RETURNING id, ts, kind`,
  update: `UPDATE ${METRICS} SET v = $4::int % 1000 WHERE id = $1 AND ts = $2 AND kind = $3`,
  remove: `DELETE FROM ${METRICS} WHERE id = $1 AND ts = $2 AND kind = $3`,
  // Either level's key: the row moves between years, or between kinds within 2024.
  changeKey: `UPDATE ${METRICS} SET ts = ${BASE_2023} + floor(random() * ${TWO_YEARS})::int * interval '1 second',
      kind = CASE WHEN random() < 0.5 THEN 'a' ELSE 'b' END
    WHERE id = $1 AND ts = $2 AND kind = $3 RETURNING id, ts, kind`,
};

const metricsReaders: ReadUnit[] = [
  async (q, rand) => {
    const ts = new Date(Date.UTC(2023, 0, 1) + Math.floor(rand() * TWO_YEARS) * 1000).toISOString();
    await q(`SELECT count(*), sum(v) FROM "Part Schema".metrics_view WHERE ts >= $1 AND ts < $1::timestamptz + interval '1 day'`, [ts]);
  },
  async (q, rand) => {
    await q(`SELECT v, touched FROM ${METRICS} WHERE id = $1`, [Math.floor(rand() * 60000)], 'metrics_by_id');
  },
  async (q, rand) => {
    await q(`SELECT count(*) FROM ${MIDDLE} WHERE kind = 'a' AND v = $1`, [Math.floor(rand() * 1000)]);
  },
];

describe('repacking a partitioned table with two levels', () => {
  it('two levels: naming the root repacks the leaves of the sub-partitioned partition too', async () => {
    const { db: d, sql } = await fresh('part_two_levels', twoLevelSchema);
    const before = await snapshot(d, sql, METRICS);
    const middle = await oidOf(sql, MIDDLE);
    const root = await oidOf(sql, METRICS);
    expect(before.leaves.map((l) => l.name).sort()).toEqual(['"Part Schema".m_2023', '"Part Schema"."m_2024 a"', '"Part Schema".m_2024_b'].sort());
    const run = await runUnderLoad(d, METRICS, metricsFixture, metricsReaders, 44);
    await expectCleanRun(d, sql, run, before, { table: METRICS, control: metricsFixture.control, keys: metricsFixture.keys });
    const after = await leavesOf(sql, METRICS);
    expectLeaves(before.leaves, after, before.leaves.map((l) => l.name));
    expect.soft(run.output.split('\n').filter((l) => /swap under lock/.test(l)), 'one swap per leaf').toHaveLength(3);
    expect.soft(await oidOf(sql, MIDDLE), 'the sub-partitioned partition itself is kept').toBe(middle);
    expect.soft(await oidOf(sql, METRICS), 'the root itself is kept').toBe(root);
  });
});

// ---------------------------------------------------------------------------------------------
// (5) refusals: nothing changes, the reason is named

async function expectRefused(prefix: string, schema: string, target: string, reasons: RegExp[]): Promise<void> {
  const { db: d, sql } = await fresh(prefix, schema);
  const tables = await sql.query<{ t: string }>(
    `SELECT c.oid::regclass::text AS t FROM pg_class c WHERE c.relnamespace = '"Part Schema"'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1`,
  );
  const rows = async () => {
    const out: Record<string, string> = {};
    for (const { t } of tables.rows) {
      const r = await sql.query(`SELECT count(*)::int AS n, coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') AS h FROM ${t} x`);
      out[t] = `${r.rows[0].n} ${r.rows[0].h}`;
    }
    return out;
  };
  const before = { catalog: await catalogSnapshot(sql), tree: await partitionTree(sql), storage: await storageOfAll(sql), rows: await rows() };
  const dump = await schemaDump(d);
  const r = await runCli(['repack_tables', '--debug'], { home: configFor(d, target) });
  const output = r.stdout + r.stderr;
  console.log(`${target}: exit ${r.code}; ${output.split('\n').filter((l) => /refused/.test(l)).join(' | ').slice(0, 600)}`);
  expect(r.code, `exit code; output:\n${lastLines(output)}`).not.toBe(0);
  for (const reason of reasons) expect.soft(output, 'the reason').toMatch(reason);
  expect.soft(output).not.toMatch(/swap under lock/);
  expect.soft(await rpclLeftovers(sql), 'leftovers').toEqual([]);
  expect.soft(await storageOfAll(sql), 'relations and their storage').toEqual(before.storage);
  expect.soft(await partitionTree(sql), 'partition tree').toEqual(before.tree);
  expect.soft(await catalogSnapshot(sql), 'catalog snapshot').toEqual(before.catalog);
  expect.soft(await schemaDump(d), 'pg_dump --schema-only').toEqual(dump);
  expect.soft(await rows(), 'rows').toEqual(before.rows);
}

describe('refusals, with the reason, changing nothing', () => {
  it('a leaf of a partitioned table that a foreign key references', () =>
    expectRefused('part_refuse_referenced', `
      CREATE SCHEMA "Part Schema";
      CREATE TABLE "Part Schema".accounts (id int NOT NULL, region text NOT NULL, name text, PRIMARY KEY (id, region))
        PARTITION BY LIST (region);
      CREATE TABLE "Part Schema".accounts_eu PARTITION OF "Part Schema".accounts FOR VALUES IN ('eu');
      CREATE TABLE "Part Schema".accounts_us PARTITION OF "Part Schema".accounts FOR VALUES IN ('us');
      CREATE TABLE "Part Schema".payments (id int PRIMARY KEY, account_id int NOT NULL, region text NOT NULL,
        CONSTRAINT payments_account_fkey FOREIGN KEY (account_id, region) REFERENCES "Part Schema".accounts);
      INSERT INTO "Part Schema".accounts SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, 'a' || g FROM generate_series(1, 5000) g;
      INSERT INTO "Part Schema".payments SELECT g, g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 5000, 7) g;
      DELETE FROM "Part Schema".accounts a WHERE a.id % 3 = 0 AND NOT EXISTS (SELECT 1 FROM "Part Schema".payments p WHERE p.account_id = a.id);`,
      '"Part Schema".accounts_eu',
      [/foreign key/i, /payments/],
    ));

});

/**
 * Under writers, either outcome checked in full: refused with the reason and nothing changed,
 * or repacked with the schema identical and the data equal to the control copy. `expected`
 * says which one the engine must have.
 */
async function refusedOrRepacked(opts: {
  expected: 'refused' | 'repacked';
  prefix: string;
  schema: string;
  target: string;
  root: string;
  fixture: KeyedFixture;
  readers: ReadUnit[];
  seed: number;
  reasons: RegExp[];
}): Promise<{ outcome: 'refused' | 'repacked'; sql: pg.Client }> {
  const { db: d, sql } = await fresh(opts.prefix, opts.schema);
  const before = await snapshot(d, sql, opts.root);
  const storage = await storageOfAll(sql);
  const target = (await sql.query(`SELECT $1::regclass::text AS t`, [opts.target])).rows[0].t as string;
  const run = await runUnderLoad(d, opts.target, opts.fixture, opts.readers, opts.seed);
  const data = { table: opts.fixture.table, control: opts.fixture.control, keys: opts.fixture.keys };
  if (run.result.code === 0) {
    expect(opts.expected, `${opts.target} was repacked`).toBe('repacked');
    await expectCleanRun(d, sql, run, before, data);
    expectLeaves(before.leaves, await leavesOf(sql, opts.root), [target]);
    return { outcome: 'repacked', sql };
  }
  expect(opts.expected, `${opts.target}: exit ${run.result.code}; ${run.output.split('\n').filter((l) => /refused|failed/.test(l)).join(' | ').slice(0, 600)}`).toBe('refused');
  expect(run.result.code).toBe(5);
  for (const reason of opts.reasons) expect.soft(run.output, 'the reason').toMatch(reason);
  expect.soft(run.output).not.toMatch(/swap under lock/);
  expect.soft(run.workload.unexpected, 'errors the writers saw').toEqual([]);
  expect.soft(run.reads.errors, 'errors the readers saw').toEqual([]);
  expect.soft(await tableChecksum(sql, data.table, data.keys), 'partitioned table = control').toEqual(
    await tableChecksum(sql, data.control, data.keys),
  );
  expect.soft(await rpclLeftovers(sql), 'leftovers').toEqual([]);
  expect.soft(await storageOfAll(sql), 'relations and their storage').toEqual(storage);
  expect.soft(await partitionTree(sql), 'partition tree').toEqual(before.tree);
  expect.soft(await catalogSnapshot(sql), 'catalog snapshot').toEqual(before.catalog);
  expect.soft(await schemaDump(d), 'pg_dump --schema-only').toEqual(before.dump);
  return { outcome: 'refused', sql };
}

const SALES = '"Part Schema".sales';

const salesSchema = `
  CREATE SCHEMA "Part Schema";
  CREATE TABLE "Part Schema".customers (id int PRIMARY KEY, name text NOT NULL);
  INSERT INTO "Part Schema".customers SELECT g, 'c' || g FROM generate_series(1, 1000) g;
  CREATE SEQUENCE "Part Schema".sales_id_seq;
  CREATE TABLE ${SALES} (
    id bigint NOT NULL DEFAULT nextval('"Part Schema".sales_id_seq'),
    customer_id int NOT NULL,
    d timestamptz NOT NULL,
    amount int NOT NULL,
    PRIMARY KEY (id, d),
    CONSTRAINT sales_customer_fkey FOREIGN KEY (customer_id) REFERENCES "Part Schema".customers
  ) PARTITION BY RANGE (d);
  CREATE TABLE "Part Schema".sales_early PARTITION OF ${SALES} FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-03-01 00:00:00+00');
  CREATE TABLE "Part Schema".sales_late PARTITION OF ${SALES} FOR VALUES FROM ('2024-03-01 00:00:00+00') TO ('2024-05-01 00:00:00+00');
  INSERT INTO ${SALES} (customer_id, d, amount)
    SELECT 1 + g % 1000, ${BASE} + g * 260 * interval '1 second', g % 500 FROM generate_series(1, 40000) g;
  DELETE FROM ${SALES} WHERE id % 2 = 0;
  CREATE TABLE public.sales_control (LIKE ${SALES});
  ALTER TABLE public.sales_control ADD PRIMARY KEY (id, d);
  INSERT INTO public.sales_control SELECT * FROM ${SALES} ORDER BY md5(id::text);`;

const salesFixture: KeyedFixture = {
  table: SALES,
  control: 'public.sales_control',
  keys: ['id', 'd'],
  insert: `INSERT INTO ${SALES} (customer_id, d, amount)
    VALUES (1 + $1::int % 1000, ${BASE} + ($1::int % ${SPAN}) * interval '1 second', $1::int % 500) RETURNING id, d`,
  upsert: `INSERT INTO ${SALES} AS s (id, customer_id, d, amount)
    VALUES (900000000 + $1::int % 300, 1 + $1::int % 1000, ${BASE} + ($1::int % 300) * interval '9 hours', 1)
    ON CONFLICT (id, d) DO UPDATE SET amount = s.amount + 1 RETURNING id, d`,
  // A new customer: the foreign key is checked.
  update: `UPDATE ${SALES} SET amount = $3::int % 500, customer_id = 1 + $3::int % 1000 WHERE id = $1 AND d = $2`,
  remove: `DELETE FROM ${SALES} WHERE id = $1 AND d = $2`,
  changeKey: `UPDATE ${SALES} SET d = ${BASE} + floor(random() * ${SPAN})::int * interval '1 second'
    WHERE id = $1 AND d = $2 RETURNING id, d`,
};

const salesReaders: ReadUnit[] = [
  async (q, rand) => {
    await q(
      `SELECT c.name, count(*), sum(s.amount) FROM ${SALES} s JOIN "Part Schema".customers c ON c.id = s.customer_id
       WHERE c.id = $1 GROUP BY c.name`,
      [1 + Math.floor(rand() * 1000)],
      'sales_of_customer',
    );
  },
  async (q, rand) => {
    await q(`SELECT amount FROM ${SALES} WHERE id = $1`, [Math.floor(rand() * 40000)]);
  },
  // The referenced table's own writers (a non-key update does not conflict with the key-share
  // locks of the foreign key checks).
  async (q, rand) => {
    await q(`UPDATE "Part Schema".customers SET name = 'c' || $1::int || '.' || $2::int WHERE id = $1`, [
      1 + Math.floor(rand() * 1000), Math.floor(rand() * 1000),
    ]);
  },
];

describe('with what else the partitioned table has', () => {
  it('a leaf of a partitioned table that has a foreign key to another table', async () => {
    const { sql } = await refusedOrRepacked({
      expected: 'refused',
      prefix: 'part_fk_out', schema: salesSchema, target: '"Part Schema".sales_early', root: SALES,
      fixture: salesFixture, readers: salesReaders, seed: 55,
      reasons: [/refused: its partitioned table "Part Schema"\.sales has foreign key sales_customer_fkey: attaching the copy would make PostgreSQL validate every row/],
    });
    const fks = await sql.query(`SELECT conrelid::regclass::text AS t, convalidated FROM pg_constraint WHERE contype = 'f' ORDER BY 1`);
    expect(fks.rows, 'the foreign key and its clones, as they were').toEqual([
      { t: '"Part Schema".sales', convalidated: true },
      { t: '"Part Schema".sales_early', convalidated: true },
      { t: '"Part Schema".sales_late', convalidated: true },
    ]);
  });

  it('a non-default leaf of a partitioned table that has a DEFAULT partition', async () => {
    await refusedOrRepacked({
      expected: 'repacked',
      prefix: 'part_default_sibling', schema: listSchema, target: '"Part Schema".orders_eu', root: ORDERS,
      fixture: ordersFixture, readers: ordersReaders, seed: 66, reasons: [/default partition/i],
    });
  });
});

// ---------------------------------------------------------------------------------------------
// (6) the rest of what a partition may carry, as for plain tables

const extrasSchema = `
  ${role('part_owner')}
  ${role('part_auditor')}
  CREATE SCHEMA "Part Schema";
  GRANT USAGE, CREATE ON SCHEMA "Part Schema" TO part_owner;
  CREATE TABLE "Part Schema".logs (id bigint NOT NULL, day date NOT NULL, msg text, n int, PRIMARY KEY (id, day))
    PARTITION BY RANGE (day);
  CREATE TABLE "Part Schema".logs_1 PARTITION OF "Part Schema".logs FOR VALUES FROM ('2024-01-01') TO ('2024-07-01')
    WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.01);
  CREATE TABLE "Part Schema".logs_2 PARTITION OF "Part Schema".logs FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
  ALTER TABLE "Part Schema".logs_1 OWNER TO part_owner;
  ALTER TABLE "Part Schema".logs_1 ALTER COLUMN msg SET STATISTICS 500;
  ALTER TABLE "Part Schema".logs_1 ALTER COLUMN msg SET (n_distinct = 100);
  GRANT SELECT (msg) ON "Part Schema".logs_1 TO part_auditor;
  ALTER TABLE "Part Schema".logs_1 ENABLE ROW LEVEL SECURITY;
  CREATE POLICY logs_1_auditor ON "Part Schema".logs_1 FOR SELECT TO part_auditor USING (n > 0);
  CREATE VIEW "Part Schema".first_half AS SELECT id, day, msg FROM "Part Schema".logs_1;
  COMMENT ON VIEW "Part Schema".first_half IS 'reads the partition itself';
  CREATE STATISTICS "Part Schema".logs_1_stats (dependencies) ON n, day FROM "Part Schema".logs_1;
  CREATE PUBLICATION part_leaf_pub FOR TABLE "Part Schema".logs_1;
  CREATE PUBLICATION part_root_pub FOR TABLE "Part Schema".logs WITH (publish_via_partition_root = true);
  INSERT INTO "Part Schema".logs SELECT g, date '2024-01-01' + g % 366, repeat(md5(g::text), 2), g % 50 FROM generate_series(1, 40000) g;
  DELETE FROM "Part Schema".logs WHERE id % 2 = 0;`;

describe('what else a partition carries', () => {
  it('owner, reloptions, statistics targets and objects, column grants, row security, a view on the partition, publications', async () => {
    const { db: d, sql } = await fresh('part_extras', extrasSchema);
    const before = await snapshot(d, sql, '"Part Schema".logs');
    const rows = async () =>
      (await sql.query(`SELECT count(*)::int AS n, md5(string_agg(l::text, '|' ORDER BY id, day)) AS h FROM "Part Schema".logs l`)).rows[0];
    const data = await rows();
    const pubs = async () =>
      (await sql.query(`SELECT pubname, pubviaroot FROM pg_publication ORDER BY 1`)).rows;
    const pubsBefore = await pubs();
    const r = await runCli(['repack_tables', '--debug'], { home: configFor(d, '"Part Schema".logs_1') });
    const output = r.stdout + r.stderr;
    expect(r.code, `exit code; output:\n${lastLines(output)}`).toBe(0);
    expect.soft(output).toMatch(/swap under lock/);
    expectLeaves(before.leaves, await leavesOf(sql, '"Part Schema".logs'), ['"Part Schema".logs_1']);
    expect.soft(await rows(), 'data').toEqual(data);
    expect.soft(await pubs(), 'publications').toEqual(pubsBefore);
    expect.soft(await rpclLeftovers(sql), 'leftovers').toEqual([]);
    expect.soft(await partitionTree(sql), 'partition tree').toEqual(before.tree);
    expect.soft(await catalogSnapshot(sql), 'catalog snapshot').toEqual(before.catalog);
    expect.soft(await schemaDump(d), 'pg_dump --schema-only').toEqual(before.dump);
  });
});
