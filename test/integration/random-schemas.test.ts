/**
 * Schemas nobody thought of: for each seed, test/support/schema-generator.ts builds one table
 * with a seed-chosen mix of column types, constraints, indexes and dependents, with bloat. rpcl
 * repacks it while two writers change it and mirror every change into a control table in the
 * same transaction. Then: exit code 0, a new OID, nothing of rpcl left, the catalog snapshot
 * (plus what it leaves out: column order, NOT NULL constraints, publication filters, populated
 * materialized views, partition clones of foreign keys), the partition tree and pg_dump
 * --schema-only (where Debian's pg_dump can dump the server) identical before and after, the
 * table equal to its control copy in every column, and the key's sequence still ahead of the
 * keys. A refusal that rpcl documents for a feature the seed chose (see expectedRefusals in the
 * generator) passes when nothing changed; it is printed on the seed's line.
 *
 * One seed in four makes the table partitioned, and names in `tables` either the partitioned
 * table or one leaf: then every leaf named, or standing under the table named, must have been
 * rewritten (new OID and relfilenode, same parent and bound), every other leaf untouched, every
 * partitioned table keep its OID, and no ATTACH may have read rows under the swap's locks.
 *
 * One plain table in three is given table_options (fillfactor, a storage parameter and, in a
 * snapshot copy, an order_by) that are set on the table beforehand too: the run must use them
 * (its log says so) and change nothing else.
 *
 * Even seeds copy in chunks (copy_mode = "chunked", chunks of a few rows, so that key types,
 * collations and composite keys meet the frontier), odd seeds in one snapshot.
 *
 * CI runs the fixed seeds below. More: RPCL_SCHEMA_SEEDS=50 runs seeds 1..50,
 * RPCL_SCHEMA_SEED_LIST=7,19 runs those. A failure prints the seed, every problem found and the
 * generated SQL (also written to $TMPDIR/rpcl-random-schemas/).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, it } from 'vitest';
import { xorshift } from '../../src/demo/random.js';
import { catalogSnapshot, schemaDump } from '../support/catalog.js';
import { describeError, isApplicationsOwn } from '../support/workload.js';
import { makeHome, runCli, writeConfig, type CliResult } from '../support/cli.js';
import { createTestDatabase, serverInfo, type TestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { type LeafStorage, leavesOf, partitionTree } from '../support/partitions.js';
import { generateSchema, type GeneratedSchema } from '../support/schema-generator.js';
import { connectionConfig, tableOid } from '../support/seed.js';

/**
 * Chosen greedily from seeds 1..120 to cover the most generated features on PostgreSQL 18 and
 * 13 (271 of 287 feature/major pairs); 3 to 8 s each on two cores. Then three partitioned
 * tables: 1037 (list on the tenant of a composite key, rows moved between partitions, one
 * partition in another schema, every leaf repacked), 1094 (range on a uuid key with a DEFAULT
 * partition and a partition partitioned again, every leaf repacked), 312 (list on a bigint key
 * with a DEFAULT partition, a partition partitioned by hash, one leaf repacked). Then 7 and 35:
 * table_options with an order_by in a snapshot copy (8, 10, 50 and 110 have them in chunks).
 */
const CI_SEEDS = [3, 8, 10, 40, 44, 50, 57, 70, 71, 110, 1037, 1094, 312, 7, 35];

function seedList(): number[] {
  const list = process.env.RPCL_SCHEMA_SEED_LIST;
  if (list) return list.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n));
  const count = Number(process.env.RPCL_SCHEMA_SEEDS ?? '');
  if (Number.isInteger(count) && count > 0) return Array.from({ length: count }, (_, i) => i + 1);
  return CI_SEEDS;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Errors the workload itself causes (conflicts it draws at random); anything else is a failure. */
const EXPECTED = new Set(['23505', '23P01', '23503', '23001', '40P01', '40001']);

/** Two writer sessions: each transaction changes the table and mirrors it into the control table. */
class Writers {
  commits = 0;
  readonly counts = { insert: 0, update: 0, viaView: 0, remove: 0, changeKey: 0 };
  readonly unexpected: string[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly match: string;

  constructor(
    private readonly s: GeneratedSchema,
    private readonly clients: pg.Client[],
    private readonly rows: number,
  ) {
    this.match = s.keys.map((k, i) => `${k} = $${i + 1}`).join(' AND ');
  }

  start(): void {
    this.running = true;
    this.loops = this.clients.map((c, i) => this.loop(c, this.s.seed * 7919 + i * 104729 + 1));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async mirror(c: pg.Client, key: unknown[]): Promise<void> {
    await c.query(`DELETE FROM ${this.s.control} WHERE ${this.match}`, key);
    await c.query(`INSERT INTO ${this.s.control} SELECT * FROM ${this.s.table} WHERE ${this.match}`, key);
  }

  private async loop(c: pg.Client, seed: number): Promise<void> {
    const rand = xorshift(seed);
    const int = () => Math.floor(rand() * 1_000_000);
    const w = this.s.workload;
    while (this.running) {
      try {
        await c.query('BEGIN');
        const op = rand();
        if (op < 0.2) {
          const ins = await c.query({ text: w.insert, values: [int()], rowMode: 'array' });
          for (const r of ins.rows) await this.mirror(c, r as unknown[]);
          this.counts.insert++;
        } else {
          // On a partitioned table, half of the time a leaf first: each gets its share.
          const leaves = w.partitions?.leaves ?? [];
          const pick = w.partitions && rand() < 0.5
            ? await c.query({ text: w.partitions.pick, values: [leaves[Math.floor(rand() * leaves.length)]], rowMode: 'array' })
            : await c.query({
                text: `SELECT ${this.s.keys.join(', ')} FROM ${this.s.control} OFFSET $1 LIMIT 1`,
                values: [Math.floor(rand() * this.rows)],
                rowMode: 'array',
              });
          const key = pick.rows[0] as unknown[] | undefined;
          if (key !== undefined) {
            if (op < 0.7) {
              const viaView = w.updateViaView !== null && rand() < 0.25;
              const r = int();
              for (const q of viaView ? w.updateViaView! : [w.update]) await c.query(q, [...key, r]);
              await this.mirror(c, key);
              if (viaView) this.counts.viaView++;
              else this.counts.update++;
            } else if (op < 0.85) {
              await c.query(w.remove, key);
              await c.query(`DELETE FROM ${this.s.control} WHERE ${this.match}`, key);
              for (const q of w.afterRemove) await c.query(q, key);
              this.counts.remove++;
            } else {
              const moved = await c.query({ text: w.changeKey, values: key, rowMode: 'array' });
              await c.query(`DELETE FROM ${this.s.control} WHERE ${this.match}`, key);
              for (const r of moved.rows) await this.mirror(c, r as unknown[]);
              this.counts.changeKey++;
            }
          }
        }
        await c.query('COMMIT');
        this.commits++;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        if (!isApplicationsOwn(err, EXPECTED)) this.unexpected.push(describeError(err));
      }
      await sleep(2);
    }
  }
}

/**
 * What the catalog snapshot leaves out and a rename swap could still get wrong; pg_dump would
 * show most of it, but there is no pg_dump for servers newer than 15 here.
 */
async function extraSnapshot(sql: pg.Client, major: number): Promise<string[]> {
  const ns = `SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'rpcl') AND nspname !~ '^pg_(toast|temp)'`;
  const parts = [
    `SELECT 'column order ' || c.oid::regclass::text || ': ' || string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
       FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE c.relnamespace IN (${ns}) AND c.relkind IN ('r', 'p', 'v', 'm') GROUP BY c.oid`,
    `SELECT 'populated ' || c.oid::regclass::text || ' ' || c.relispopulated FROM pg_class c WHERE c.relkind = 'm' AND c.relnamespace IN (${ns})`,
    // NOT NULL constraints are catalogued with names, states and comments from PostgreSQL 18.
    `SELECT 'not null ' || con.conrelid::regclass::text || ' ' || quote_ident(con.conname) || ' ' || pg_get_constraintdef(con.oid)
       || ' validated ' || con.convalidated || ' local ' || con.conislocal || ' inherited ' || con.coninhcount
       || ' comment ' || coalesce(obj_description(con.oid, 'pg_constraint'), '-')
       FROM pg_constraint con WHERE con.contype = 'n' AND con.connamespace IN (${ns})`,
    // Foreign keys of partitions are clones of their parent's.
    `SELECT 'fk ' || con.conrelid::regclass::text || ' ' || quote_ident(con.conname) || ' parent ' || coalesce(p.conname, '-')
       || ' local ' || con.conislocal || ' inherited ' || con.coninhcount
       FROM pg_constraint con LEFT JOIN pg_constraint p ON p.oid = con.conparentid
       WHERE con.contype = 'f' AND con.connamespace IN (${ns})`,
    `SELECT 'publication ' || quote_ident(p.pubname) || ' all ' || p.puballtables || ' ' || p.pubinsert || p.pubupdate || p.pubdelete || p.pubtruncate
       || ' comment ' || coalesce(obj_description(p.oid, 'pg_publication'), '-') FROM pg_publication p`,
  ];
  if (major >= 15) {
    parts.push(
      `SELECT 'publication table ' || quote_ident(p.pubname) || ' ' || pr.prrelid::regclass::text
         || ' where ' || coalesce(pg_get_expr(pr.prqual, pr.prrelid), '-')
         || ' columns ' || coalesce((SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attname) FROM pg_attribute a
              WHERE a.attrelid = pr.prrelid AND a.attnum = ANY (pr.prattrs)), '-')
         FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid`,
      `SELECT 'publication schema ' || quote_ident(p.pubname) || ' ' || quote_ident(n.nspname)
         FROM pg_publication_namespace pn JOIN pg_publication p ON p.oid = pn.pnpubid JOIN pg_namespace n ON n.oid = pn.pnnspid`,
    );
  }
  await sql.query(`SET search_path = pg_catalog`);
  const { rows } = await sql.query<{ line: string }>(`SELECT line FROM (${parts.map((p) => `(${p})`).join(' UNION ALL ')}) x (line) ORDER BY 1`);
  await sql.query(`RESET search_path`);
  return rows.map((r) => r.line);
}

/** Lines only before and only after (as multisets), capped; order-only changes are named as such. */
function lineDiff(before: string[], after: string[], cap = 40): string[] {
  const count = new Map<string, number>();
  for (const l of before) count.set(l, (count.get(l) ?? 0) + 1);
  const added: string[] = [];
  for (const l of after) {
    const n = count.get(l) ?? 0;
    if (n > 0) count.set(l, n - 1);
    else added.push(l);
  }
  const removed = [...count.entries()].flatMap(([l, n]) => Array<string>(n).fill(l));
  const out = [...removed.map((l) => `  - ${l}`), ...added.map((l) => `  + ${l}`)];
  if (out.length === 0 && before.join('\n') !== after.join('\n')) return ['  (same lines, different order)'];
  return out.length > cap ? [...out.slice(0, cap), `  ... ${out.length - cap} more`] : out;
}

async function checksum(sql: pg.Client, table: string, keys: string[]): Promise<{ n: number; md5: string }> {
  const { rows } = await sql.query(
    `SELECT count(*)::int AS n, coalesce(md5(string_agg(t::text, '|' ORDER BY ${keys.map((k) => `t.${k}`).join(', ')})), '') AS md5 FROM ${table} t`,
  );
  return { n: rows[0].n, md5: rows[0].md5 };
}

/** A few keys whose rows differ between the table and its control copy, with both row texts. */
async function dataDiff(sql: pg.Client, s: GeneratedSchema): Promise<string[]> {
  const on = s.keys.map((k) => `t.${k} = c.${k}`).join(' AND ');
  const { rows } = await sql.query<{ t: string | null; c: string | null }>(
    `SELECT left(t::text, 300) AS t, left(c::text, 300) AS c FROM ${s.table} t FULL JOIN ${s.control} c ON ${on}
     WHERE t::text IS DISTINCT FROM c::text LIMIT 5`,
  );
  return rows.map((r) => `  table:   ${r.t ?? '(missing)'}\n  control: ${r.c ?? '(missing)'}`);
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

interface PartitionsBefore {
  leaves: LeafStorage[];
  /** OIDs of the partitioned tables, by name. */
  partitioned: [string, number][];
  /** The leaves the run must rewrite, as regclass prints them. */
  rewritten: Set<string>;
}

async function partitionsBefore(sql: pg.Client, s: GeneratedSchema): Promise<PartitionsBefore | null> {
  if (s.partitions === null) return null;
  const name = async (n: string) => (await sql.query(`SELECT $1::regclass::text AS t`, [n])).rows[0].t as string;
  return {
    leaves: await leavesOf(sql, s.table),
    partitioned: await Promise.all(s.partitions.partitioned.map(async (n) => [n, await tableOid(sql, n)] as [string, number])),
    rewritten: new Set(await Promise.all(s.partitions.rewritten.map(name))),
  };
}

/**
 * The leaves rewritten (new OID and relfilenode) or untouched as they should be, each with its
 * parent and bound, and the partitioned tables kept: problems, if any.
 */
async function partitionProblems(sql: pg.Client, s: GeneratedSchema, before: PartitionsBefore, repacked: boolean): Promise<string[]> {
  const problems: string[] = [];
  const after = await leavesOf(sql, s.table);
  const names = (ls: LeafStorage[]) => ls.map((l) => l.name).join(', ');
  if (names(after) !== names(before.leaves)) problems.push(`the leaves were ${names(before.leaves)}, they are ${names(after)}`);
  for (const b of before.leaves) {
    const a = after.find((l) => l.name === b.name);
    if (a === undefined) continue;
    if (a.attachment !== b.attachment) problems.push(`leaf ${b.name} was attached as ${b.attachment}, now ${a.attachment}`);
    const rewritten = a.oid !== b.oid && a.relfilenode !== b.relfilenode;
    const untouched = a.oid === b.oid && a.relfilenode === b.relfilenode;
    if (repacked && before.rewritten.has(b.name) && !rewritten) {
      problems.push(`leaf ${b.name} was not rewritten (OID ${b.oid} -> ${a.oid}, relfilenode ${b.relfilenode} -> ${a.relfilenode})`);
    } else if (!(repacked && before.rewritten.has(b.name)) && !untouched) {
      problems.push(`leaf ${b.name} should be untouched (OID ${b.oid} -> ${a.oid}, relfilenode ${b.relfilenode} -> ${a.relfilenode})`);
    }
  }
  for (const [name, oid] of before.partitioned) {
    const now = await tableOid(sql, name);
    if (now !== oid) problems.push(`partitioned table ${name} changed its OID (${oid} -> ${now})`);
  }
  return problems;
}

interface SeedState {
  /** Even seeds copy in chunks (copy_mode = "chunked", small chunks), odd ones in one snapshot. */
  copyMode: 'chunked' | 'snapshot';
  problems: string[];
  /** A documented refusal, instead of a repack. */
  refused?: string;
  run: CliResult;
  writers?: Writers;
  elapsed: number;
}

/** Loads the schema, repacks it under writers and compares; every difference goes to st.problems. */
async function repackAndCompare(db: TestDatabase, s: GeneratedSchema, st: SeedState): Promise<void> {
  const major = db.major;
  const sql = await db.client();
  for (const statement of [...s.statements, s.controlSql]) {
    try {
      await sql.query(statement);
    } catch (err) {
      st.problems.push(`the generated schema did not load (a generator bug): ${(err as Error).message}\nin: ${statement}`);
      return;
    }
  }
  for (const statement of s.rewriteOptions?.before ?? []) await sql.query(statement);
  await sql.query('ANALYZE');
  const oid = await tableOid(sql, s.target);
  const partitions = await partitionsBefore(sql, s);
  const before = await catalogSnapshot(sql);
  const extraBefore = await extraSnapshot(sql, major);
  const treeBefore = await partitionTree(sql);
  const dumpBefore = await schemaDump(db);
  const rows = (await sql.query(`SELECT count(*)::int AS n FROM ${s.control}`)).rows[0].n as number;

  const home = makeHome();
  const chunked = st.copyMode === 'chunked';
  writeConfig(home, 'default', connectionConfig(db, [
    `tables = ['${s.target}']`, 'lock_timeout = "1s"', 'check_time = 1', `copy_mode = "${st.copyMode}"`, ...(chunked ? ['chunk_time = 0.05'] : []),
    ...(s.rewriteOptions ? [
      `[connections.seed.table_options.'${s.target}']`, ...s.rewriteOptions.keys, ...(chunked ? [] : [s.rewriteOptions.orderBy]),
    ] : []),
  ]));
  const writers = (st.writers = new Writers(s, await Promise.all([db.client(), db.client()]), Math.max(1, Math.floor(rows * 0.9))));
  writers.start();
  try {
    await sleep(200);
    const started = Date.now();
    const pause = chunked ? 'copy-chunk:20,replay:300' : 'copy-snapshot:200,replay:300';
    st.run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: pause } });
    st.elapsed = Date.now() - started;
    await sleep(100);
  } finally {
    await writers.stop();
  }

  const output = `${st.run.stdout}\n${st.run.stderr}`;
  const refusal = st.run.code === 5 ? s.expectedRefusals.find((r) => r.pattern.test(output)) : undefined;
  if (refusal) {
    // A refusal rpcl documents: then nothing may have changed (checked below like a repack).
    st.refused = `${refusal.feature}: ${/refused: [^\n]*/.exec(output)?.[0] ?? ''}`;
    if (partitions) st.problems.push(...(await partitionProblems(sql, s, partitions, false)));
    else if ((await tableOid(sql, s.target)) !== oid) st.problems.push('the table was refused but its OID changed');
  } else if (st.run.code !== 0) {
    const errors = `${st.run.stdout}\n${st.run.stderr}`.split('\n').filter((l) => /error|refused|failed|violat|does not exist/i.test(l));
    st.problems.push(`rpcl exited with code ${st.run.code}:\n${errors.slice(-8).map((l) => `  ${l.trim()}`).join('\n')}`);
  } else if (partitions) {
    st.problems.push(...(await partitionProblems(sql, s, partitions, true)));
  } else if ((await tableOid(sql, s.target)) === oid) {
    st.problems.push('the table kept its OID: it was not swapped');
  }
  if (s.rewriteOptions && !refusal && st.run.code === 0) {
    // The table already had these parameters (so the dumps must match): the log shows the run used them.
    const used = [/table options: storage: fillfactor=\d+, autovacuum_vacuum_scale_factor=[\d.]+ set on the copy/, ...(chunked ? [] : [/table options: order: .* \(order_by\)/])];
    for (const line of used.filter((re) => !re.test(output))) st.problems.push(`table_options not in effect: no log line like ${line}`);
  }
  // What the server said about each ATTACH (rpcl asks at DEBUG1): it must have read no rows.
  const scans = output.split('\n').filter((l) => /verifying table|validating foreign key constraint/.test(l));
  if (scans.length > 0) st.problems.push(`ATTACH read rows under the swap's locks:\n${scans.slice(0, 5).map((l) => `  ${l.trim()}`).join('\n')}`);
  if (writers.unexpected.length > 0) st.problems.push(`writers got errors:\n${[...new Set(writers.unexpected)].slice(0, 8).map((e) => `  ${e}`).join('\n')}`);
  if (writers.commits === 0) st.problems.push('no writer transaction committed');
  const leftovers = await rpclLeftovers(sql);
  if (leftovers.length > 0) st.problems.push(`rpcl left behind: ${leftovers.join('; ')}`);
  const catalog = lineDiff(before, await catalogSnapshot(sql));
  if (catalog.length > 0) st.problems.push(`catalog snapshot differs (- before, + after):\n${catalog.join('\n')}`);
  const extra = lineDiff(extraBefore, await extraSnapshot(sql, major));
  if (extra.length > 0) st.problems.push(`catalog details differ (- before, + after):\n${extra.join('\n')}`);
  const tree = lineDiff(treeBefore, await partitionTree(sql));
  if (tree.length > 0) st.problems.push(`partition tree differs (- before, + after):\n${tree.join('\n')}`);
  if (dumpBefore !== null) {
    const dump = lineDiff(dumpBefore.split('\n'), ((await schemaDump(db)) ?? '').split('\n'));
    if (dump.length > 0) st.problems.push(`pg_dump --schema-only differs (- before, + after):\n${dump.join('\n')}`);
  }
  const [table, control] = [await checksum(sql, s.table, s.keys), await checksum(sql, s.control, s.keys)];
  if (table.n !== control.n || table.md5 !== control.md5) {
    st.problems.push(`the table (${table.n} rows) differs from its control copy (${control.n} rows):\n${(await dataDiff(sql, s)).join('\n')}`);
  }
  if (s.keySequence) {
    const { rows: seq } = await sql.query(
      `SELECT pg_get_serial_sequence($1, $2) AS seq, (SELECT max(${s.keys[0]})::text FROM ${s.table}) AS max_key`,
      [s.table, s.keySequence.column],
    );
    const last = (await sql.query(`SELECT last_value::text AS v FROM ${seq[0].seq}`)).rows[0].v as string;
    if (seq[0].max_key !== null && BigInt(last) < BigInt(seq[0].max_key)) {
      st.problems.push(`sequence ${seq[0].seq} is at ${last}, behind the largest key ${seq[0].max_key}: the next insert collides`);
    }
  }
}

async function runSeed(seed: number): Promise<void> {
  const major = serverInfo().major;
  const s = generateSchema(seed, major);
  const st: SeedState = { copyMode: seed % 2 === 0 ? 'chunked' : 'snapshot', problems: [], run: { code: -1, stdout: '', stderr: '' }, elapsed: 0 };
  const { problems } = st;
  const db = await createTestDatabase(`rs_${seed}`);
  try {
    await repackAndCompare(db, s, st);
  } catch (err) {
    problems.push(`the test itself failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await db.drop();
  }
  const { run, writers, elapsed } = st;
  const held = /swap attempt (\d+)\/\d+ succeeded: lock held (\d+) ms/.exec(run.stderr);
  const counts = writers ? Object.entries(writers.counts).map(([k, n]) => `${k} ${n}`).join(', ') : '-';
  process.stdout.write(
    `seed ${seed} on PostgreSQL ${major}, ${st.copyMode} copy: ${problems.length === 0 ? 'ok' : `FAILED (${problems.length})`}; ` +
      (st.refused ? `REFUSED as documented (${st.refused.slice(0, 160)}...); ` : '') +
      `rpcl ${(elapsed / 1000).toFixed(1)} s, exit ${run.code}${held ? `, swap attempt ${held[1]} held the lock ${held[2]} ms` : ''}; ` +
      `writers ${writers?.commits ?? 0} commits (${counts}); covers: ${s.features.join('; ')}\n`,
  );
  if (problems.length > 0) {
    const dir = join(tmpdir(), 'rpcl-random-schemas');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `seed-${seed}-pg${major}.sql`);
    writeFileSync(file, s.sql + '\n' + s.controlSql + '\n');
    writeFileSync(join(dir, `seed-${seed}-pg${major}.txt`), `${problems.join('\n')}\n\n--- rpcl stdout\n${run.stdout}\n--- rpcl stderr\n${run.stderr}\n`);
    throw new Error(
      `seed ${seed} on PostgreSQL ${major}: ${problems.length} problem(s)\n${problems.map((p) => `* ${p}`).join('\n')}\n\n` +
        `reproduce: npm run build && RPCL_TEST_PG_MAJOR=${major} RPCL_SCHEMA_SEED_LIST=${seed} npx vitest run --project integration test/integration/random-schemas.test.ts\n` +
        `rpcl output (last 25 lines):\n${lastLines(`${run.stdout}\n${run.stderr}`, 25)}\n\n` +
        `generated SQL (also in ${file}):\n${s.sql}\n${s.controlSql}\n`,
    );
  }
}

describe('random schemas: a repack under writers keeps the schema and the data', () => {
  for (const seed of seedList()) {
    it(`seed ${seed}`, () => runSeed(seed), 150_000);
  }
});
