/**
 * `npm run bench:bloat`: rpcl's bloat estimate (inspect/bloat.ts) against the truth, on an
 * embedded server: tables and indexes of different shapes with known bloat (autovacuum off on
 * them), estimated, then measured with pgstattuple / pgstatindex, then rewritten by VACUUM
 * FULL (which also rebuilds their indexes) for the real size a rewrite comes to. Prints one
 * table; errors are in % of the relation's size (estimate minus the VACUUM FULL truth).
 *
 * Options: --major N (PostgreSQL major, default 18), --scale F (row counts, default 1).
 */
import pg from 'pg';
import { startEmbeddedServer } from '../embedded/server.js';
import { estimateIndexBloat, estimateTableBloat, type BloatEstimate } from '../inspect/bloat.js';
import { formatBytes } from '../report/log-events.js';

interface Shape {
  name: string;
  what: string;
  setup: (scale: (n: number) => number) => string[];
}

const SHAPES: Shape[] = [
  {
    name: 'narrow', what: 'int8 + int4 rows, 30% deleted at random',
    setup: (s) => [
      `CREATE TABLE narrow (id int8 PRIMARY KEY, v int4) WITH (autovacuum_enabled = off)`,
      `CREATE INDEX narrow_v ON narrow (v)`,
      `INSERT INTO narrow SELECT g, g % 1000 FROM generate_series(1, ${s(600_000)}) g`,
      `DELETE FROM narrow WHERE random() < 0.3`,
    ],
  },
  {
    name: 'wide', what: '~600-byte text rows, every third deleted',
    setup: (s) => [
      `CREATE TABLE wide (id int4 PRIMARY KEY, payload text) WITH (autovacuum_enabled = off)`,
      `CREATE INDEX wide_prefix ON wide (left(payload, 16))`,
      `INSERT INTO wide SELECT g, repeat(md5(g::text), 18 + g % 4) FROM generate_series(1, ${s(60_000)}) g`,
      `DELETE FROM wide WHERE id % 3 = 0`,
    ],
  },
  {
    name: 'toast_heavy', what: '~16 kB incompressible documents (TOAST), half deleted',
    setup: (s) => [
      `CREATE TABLE toast_heavy (id int4 PRIMARY KEY, title text, doc text) WITH (autovacuum_enabled = off, toast.autovacuum_enabled = off)`,
      `INSERT INTO toast_heavy SELECT g, 'document ' || g, (SELECT string_agg(md5(g::text || x::text || random()::text), '') FROM generate_series(1, 500) x) FROM generate_series(1, ${s(5_000)}) g`,
      `DELETE FROM toast_heavy WHERE id % 2 = 0`,
    ],
  },
  {
    name: 'toast_mixed', what: '1-40 kB documents, part compressible, some inline; a third rewritten',
    setup: (s) => [
      `CREATE TABLE toast_mixed (id int4 PRIMARY KEY, doc text, note text) WITH (autovacuum_enabled = off, toast.autovacuum_enabled = off)`,
      `INSERT INTO toast_mixed SELECT g, (SELECT string_agg(CASE WHEN x % 3 = 0 THEN md5(x::text || random()::text) ELSE 'lorem ipsum dolor ' END, '') FROM generate_series(1, 60 + (g * 37) % 2200) x), repeat('n', g % 300) FROM generate_series(1, ${s(6_000)}) g`,
      `UPDATE toast_mixed SET doc = doc || 'changed' WHERE id % 3 = 0`,
    ],
  },
  {
    name: 'fillfactor70', what: 'fillfactor 70, 120-byte rows, 10% updated (HOT, kept space)',
    setup: (s) => [
      `CREATE TABLE fillfactor70 (id int4 PRIMARY KEY, v text) WITH (fillfactor = 70, autovacuum_enabled = off)`,
      `INSERT INTO fillfactor70 SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, ${s(200_000)}) g`,
      `UPDATE fillfactor70 SET v = v WHERE id % 10 = 0`,
      `VACUUM fillfactor70`,
    ],
  },
  {
    name: 'half_deleted', what: 'half deleted then plain VACUUM (free space, no dead rows)',
    setup: (s) => [
      `CREATE TABLE half_deleted (id int4, a int4, b text) WITH (autovacuum_enabled = off)`,
      `INSERT INTO half_deleted SELECT g, g % 500, 'label ' || (g % 777) FROM generate_series(1, ${s(400_000)}) g`,
      `CREATE INDEX half_deleted_ab ON half_deleted (a, b)`,
      `CREATE INDEX half_deleted_partial ON half_deleted (id) WHERE a < 50`,
      `DELETE FROM half_deleted WHERE id % 2 = 0`,
      `VACUUM half_deleted`,
    ],
  },
  {
    name: 'hot_churn', what: 'every row updated 3 times (HOT and not), no vacuum',
    setup: (s) => [
      `CREATE TABLE hot_churn (id int4 PRIMARY KEY, counter int4, note text) WITH (autovacuum_enabled = off)`,
      `CREATE INDEX hot_churn_counter ON hot_churn (counter)`,
      `INSERT INTO hot_churn SELECT g, 0, 'n' || g FROM generate_series(1, ${s(150_000)}) g`,
      `UPDATE hot_churn SET note = note || 'x'`,
      `UPDATE hot_churn SET counter = counter + 1`,
      `UPDATE hot_churn SET note = note || 'y' WHERE id % 2 = 0`,
    ],
  },
  {
    name: 'old_rows', what: 'the oldest 40% deleted (bloat all at the start), VACUUM',
    setup: (s) => [
      `CREATE TABLE old_rows (id int8 PRIMARY KEY, at timestamptz, payload text) WITH (autovacuum_enabled = off)`,
      `INSERT INTO old_rows SELECT g, now() - (${s(200_000)} - g) * interval '1 minute', repeat('p', 150 + g % 100) FROM generate_series(1, ${s(200_000)}) g`,
      `CREATE INDEX old_rows_at ON old_rows (at)`,
      `DELETE FROM old_rows WHERE id <= ${s(80_000)}`,
      `VACUUM old_rows`,
    ],
  },
  {
    name: 'no_bloat', what: 'freshly loaded, nothing deleted',
    setup: (s) => [
      `CREATE TABLE no_bloat (id int4 PRIMARY KEY, name text, at timestamptz) WITH (autovacuum_enabled = off)`,
      `INSERT INTO no_bloat SELECT g, 'customer ' || g, now() FROM generate_series(1, ${s(300_000)}) g`,
      `CREATE INDEX no_bloat_name ON no_bloat (name)`,
      `CREATE INDEX no_bloat_hash ON no_bloat USING hash (id)`,
    ],
  },
];

function args(argv: string[]): { major: number; scale: number } {
  const get = (name: string, d: number) => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(argv[i + 1]) : d;
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number (got ${argv[i + 1]})`);
    return v;
  };
  return { major: get('major', Number(process.env.RPCL_TEST_PG_MAJOR ?? 18)), scale: get('scale', 1) };
}

interface Line {
  kind: string;
  name: string;
  size: number;
  estimate: number | null;
  statTruth: number;
  fullTruth: number;
  pagesRead: number;
  ms: number;
  method: string;
}

const pct = (x: number | null, of: number) => (x === null || of === 0 ? '-' : `${((100 * x) / of).toFixed(1)}%`);

async function main(): Promise<void> {
  const o = args(process.argv.slice(2));
  const server = await startEmbeddedServer({ major: o.major, settings: { fsync: 'off', autovacuum: 'off' } });
  const c = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: 'postgres' });
  await c.connect();
  const lines: Line[] = [];
  try {
    await c.query(`CREATE EXTENSION pgstattuple`);
    const bs = Number((await c.query(`SELECT current_setting('block_size') AS b`)).rows[0].b);
    const scale = (n: number) => Math.max(10, Math.round(n * o.scale));
    for (const shape of SHAPES) {
      for (const sql of shape.setup(scale)) await c.query(sql);
      await c.query(`ANALYZE ${shape.name}`);
      const oid = Number((await c.query(`SELECT $1::regclass::oid::int8 AS o`, [shape.name])).rows[0].o);
      const idx = (await c.query<{ oid: string; name: string; am: string }>(
        `SELECT i.indexrelid::int8 AS oid, x.relname AS name, a.amname AS am FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
         JOIN pg_am a ON a.oid = x.relam WHERE i.indrelid = $1 ORDER BY x.relname`, [oid])).rows;
      let t0 = performance.now();
      const table = (await estimateTableBloat(c, [oid])).get(oid)!;
      const tableMs = performance.now() - t0;
      t0 = performance.now();
      const indexes = await estimateIndexBloat(c, idx.map((i) => Number(i.oid)), new Map([[oid, table]]));
      const indexMs = performance.now() - t0;
      // Truth 1, pgstattuple: size minus what the live tuples need at the fillfactor.
      const ff = Number((await c.query(
        `SELECT coalesce((SELECT substr(o, 12)::int FROM unnest(reloptions) o WHERE o LIKE 'fillfactor=%'), 100) AS f FROM pg_class WHERE oid = $1`, [oid])).rows[0].f);
      const need = async (rel: string, fill: number) => {
        const r = (await c.query(`SELECT table_len, tuple_count, tuple_len FROM pgstattuple($1::regclass)`, [rel])).rows[0];
        const pages = Math.ceil((Number(r.tuple_len) + 4 * Number(r.tuple_count)) / (((bs - 24) * fill) / 100));
        return Number(r.table_len) - pages * bs;
      };
      const toast = (await c.query(`SELECT reltoastrelid::regclass::text AS t FROM pg_class WHERE oid = $1 AND reltoastrelid <> 0`, [oid])).rows[0]?.t as string | undefined;
      const statTable = (await need(shape.name, ff)) + (toast ? await need(toast, 100) : 0);
      const statIndex = new Map<string, number>();
      for (const i of idx) {
        if (i.am !== 'btree') continue;
        const r = (await c.query(`SELECT * FROM pgstatindex($1::regclass)`, [i.oid])).rows[0];
        const ifill = Number((await c.query(
          `SELECT coalesce((SELECT substr(o, 12)::int FROM unnest(reloptions) o WHERE o LIKE 'fillfactor=%'), 90) AS f FROM pg_class WHERE oid = $1`, [i.oid])).rows[0].f);
        const rebuilt = 1 + Number(r.internal_pages) + Math.ceil((Number(r.leaf_pages) * Number(r.avg_leaf_density)) / ifill);
        statIndex.set(i.oid, Number(r.index_size) - rebuilt * bs);
      }
      // Truth 2: the sizes a rewrite really comes to.
      const sizes = async () => (await c.query<{ oid: string; b: string }>(
        `SELECT $1::int8 AS oid, (pg_relation_size($1::oid) + coalesce(pg_relation_size(nullif((SELECT reltoastrelid FROM pg_class WHERE oid = $1), 0)), 0))::int8 AS b
         UNION ALL SELECT indexrelid::int8, pg_relation_size(indexrelid)::int8 FROM pg_index WHERE indrelid = $1`, [oid])).rows;
      const before = new Map((await sizes()).map((r) => [r.oid, Number(r.b)]));
      await c.query(`VACUUM FULL ${shape.name}`);
      // VACUUM FULL keeps the index OIDs? No: it rebuilds them under new relfilenodes, same OIDs.
      const after = new Map((await sizes()).map((r) => [r.oid, Number(r.b)]));
      const push = (kind: string, name: string, key: string, e: BloatEstimate, stat: number, ms: number) => {
        lines.push({
          kind, name, size: before.get(key)!, estimate: e.reclaimableBytes, statTruth: stat,
          fullTruth: before.get(key)! - after.get(key)!, pagesRead: e.pagesRead, ms, method: e.method,
        });
      };
      push(`table: ${shape.what}`, shape.name, String(oid), table, statTable, tableMs);
      for (const i of idx) {
        push(`  index (${i.am})`, i.name, i.oid, indexes.get(Number(i.oid))!, statIndex.get(i.oid) ?? NaN, indexMs / idx.length);
      }
    }
  } finally {
    await c.end().catch(() => undefined);
    await server.stop();
  }
  print(lines, o.major);
}

function print(lines: Line[], major: number): void {
  const head = ['relation', 'size', 'estimate', 'pgstattuple', 'VACUUM FULL', 'error', 'pages read', 'ms', 'shape'];
  const rows = lines.map((l) => [
    l.name, formatBytes(l.size),
    l.estimate === null ? 'unknown' : `${formatBytes(l.estimate)} (${pct(l.estimate, l.size)})`,
    Number.isNaN(l.statTruth) ? '-' : `${formatBytes(Math.max(0, l.statTruth))} (${pct(l.statTruth, l.size)})`,
    `${formatBytes(l.fullTruth)} (${pct(l.fullTruth, l.size)})`,
    l.estimate === null ? '-' : `${l.estimate - l.fullTruth >= 0 ? '+' : ''}${pct(l.estimate - l.fullTruth, l.size)}`,
    String(l.pagesRead), l.ms.toFixed(0), l.kind,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (v: string[]) => v.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(`bloat estimate against the truth, PostgreSQL ${major} (error = estimate - VACUUM FULL truth, in % of size)`);
  console.log(line(head));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
  const errs = lines.filter((l) => l.estimate !== null).map((l) => Math.abs(l.estimate! - l.fullTruth) / l.size);
  const tables = lines.filter((l) => l.kind.startsWith('table') && l.estimate !== null).map((l) => Math.abs(l.estimate! - l.fullTruth) / l.size);
  console.log(`mean |error|: tables ${(100 * tables.reduce((a, b) => a + b, 0) / tables.length).toFixed(1)}% of size (worst ${(100 * Math.max(...tables)).toFixed(1)}%), ` +
    `all ${(100 * errs.reduce((a, b) => a + b, 0) / errs.length).toFixed(1)}% (worst ${(100 * Math.max(...errs)).toFixed(1)}%)`);
  for (const l of lines) console.log(`  ${l.name}: ${l.method}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
