/**
 * `npm run bench`: the seed example with N rows, half deleted, under W writers, repacked by
 * rpcl, by pg_repack and by VACUUM FULL (and a reader through the table's view), each on its own database of the same Debian
 * PostgreSQL 15 server, in one run, next to the plain-SQL floor (floor.ts) that bounds any
 * tool limited to plain SQL. Prints a table of runs (and of medians with --repeat); figures,
 * not pass/fail.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { equalsControl, loadSeedExample } from '../demo/seed.js';
import { startDebianServer, type DebianServer } from './debian-server.js';
import { BenchWriters, DEFAULT_WRITER_RATE, type LatencyStats } from '../demo/writers.js';
import { ViewReader } from '../demo/readers.js';
import { FLOOR_TABLE, runFloor } from './floor.js';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
type Tool = 'rpcl' | 'pg_repack' | 'vacuum_full' | 'sql_floor';
const ALL_TOOLS: Tool[] = ['rpcl', 'pg_repack', 'vacuum_full', 'sql_floor'];

interface Options {
  /** rpcl's parallel_sessions. */
  parallel: number;
  /** Transactions per second per writer; 0 = back to back. */
  rate: number;
  /** The seed's EXCLUDE (excluded WITH =) replaced by a UNIQUE index on the same column. */
  uniqueForExclude: boolean;
  rows: number[];
  writers: number[];
  tools: Tool[];
  baselineSeconds: number;
  /** Runs of each tool in each cell, interleaved; summaries and ratios use their medians. */
  repeat: number;
}

interface Result {
  tool: Tool;
  rows: number;
  writers: number;
  wallSeconds: number;
  before: LatencyStats;
  during: LatencyStats;
  sizeBefore: number;
  sizeAfter: number;
  dataEqual: boolean;
  walBytes: number;
  oldestSnapshotSeconds?: number;
  peakLogBytes?: number;
  writerErrors: number;
  /** The reader through the view: its worst latency while the tool ran, and every error it saw. */
  readerWorst: number;
  readerErrors: string[];
}

function parseArgs(argv: string[]): Options {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number) : d);
  const parallel = Number(get('parallel') ?? 2);
  const rate = Number(get('rate') ?? DEFAULT_WRITER_RATE);
  const uniqueForExclude = argv.includes('--unique-for-exclude');
  const repeat = Number(get('repeat') ?? 1);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a whole number of at least 1 (got ${get('repeat')})`);
  if (argv.includes('--quick')) return { parallel, rate, uniqueForExclude, repeat, rows: [100_000], writers: [2], tools: ALL_TOOLS, baselineSeconds: 3 };
  return {
    parallel,
    rate,
    uniqueForExclude,
    repeat,
    rows: list(get('rows'), [1_000_000, 10_000_000]),
    writers: list(get('writers'), [0, 2, 4]),
    tools: (get('tools')?.split(',') as Tool[] | undefined) ?? ALL_TOOLS,
    baselineSeconds: Number(get('baseline') ?? 5),
  };
}

async function client(s: DebianServer, database: string, app = 'bench'): Promise<pg.Client> {
  const c = new pg.Client({ host: s.host, port: s.port, user: s.user, database, application_name: app });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/**
 * A fresh database with the seed example, and each tool's one-time set-up outside the timed
 * part: pg_repack's extension, rpcl's helper schema (both are installed once per database).
 * Returns rpcl's HOME with its config file.
 */
async function prepare(tool: Tool, s: DebianServer, db: string, rows: number, o: Options): Promise<string> {
  const admin = await client(s, 'postgres');
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const c = await client(s, db);
  await loadSeedExample(c, rows);
  if (tool === 'pg_repack') await c.query(`CREATE EXTENSION pg_repack`);
  if (o.uniqueForExclude) {
    // Same guarantee and the same five indexes; only the constraint kind differs (an EXCLUDE
    // constraint can only be added by ALTER TABLE, which re-checks every row).
    await c.query(`ALTER TABLE table_for_repack DROP CONSTRAINT table_for_repack_excluded_excl`);
    await c.query(`CREATE UNIQUE INDEX table_for_repack_excluded_key ON table_for_repack (excluded)`);
  }
  const home = mkdtempSync(join(tmpdir(), 'rpcl-bench-home-'));
  mkdirSync(join(home, '.repcloud', 'config'), { recursive: true });
  writeFileSync(
    join(home, '.repcloud', 'config', 'bench.toml'),
    `[connections.bench]\nhost = "${s.host}"\nport = ${s.port}\nuser = "${s.user}"\ndatabase = "${db}"\n` +
      `sslmode = "disable"\ntables = ["public.table_for_repack"]\nlock_timeout = "1s"\ncheck_time = 1\n` +
      `parallel_sessions = ${o.parallel}\n`,
  );
  if (tool === 'rpcl') await rpcl(home, ['create_schema']);
  // The load's dirty pages and WAL are flushed now, so no tool is timed against a checkpoint
  // the load left behind (the server's checkpoint_timeout is 30 min and max_wal_size 4GB, so
  // no other checkpoint falls inside a measurement either).
  await c.query('CHECKPOINT');
  await c.end();
  return home;
}

function rpcl(home: string, args: string[]) {
  return run(process.execPath, [join(root, 'bin', 'rpcl.js'), ...args, '--config', 'bench', '--debug'], { env: { ...process.env, HOME: home } });
}

async function runTool(tool: Tool, s: DebianServer, db: string, home: string): Promise<void> {
  if (tool === 'vacuum_full') {
    const c = await client(s, db);
    await c.query(`VACUUM FULL table_for_repack`);
    await c.end();
  } else if (tool === 'sql_floor') {
    const [a, b] = [await client(s, db), await client(s, db)];
    await runFloor(a, b);
    await Promise.all([a.end(), b.end()]);
  } else if (tool === 'pg_repack') {
    await run(s.pgRepack, ['-h', s.host, '-p', String(s.port), '-U', s.user, '-d', db, '-t', 'public.table_for_repack', '--no-superuser-check']);
  } else {
    const r = await rpcl(home, ['repack_tables']);
    if (process.env.RPCL_BENCH_TRACE) console.error(r.stderr);
  }
}

/** Samples rpcl's oldest snapshot and its log table's size while it runs. */
function sampler(c: pg.Client) {
  let oldest = 0;
  let peakLog = 0;
  let on = true;
  const loop = (async () => {
    while (on) {
      const r = await c.query(
        `SELECT coalesce(max(extract(epoch FROM now() - xact_start)) FILTER (WHERE backend_xmin IS NOT NULL AND application_name LIKE 'rpcl%'), 0) AS oldest,
                coalesce((SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE n.nspname = 'rpcl' AND c.relname LIKE 'log\\_%'), 0) AS log
         FROM pg_stat_activity`,
      ).catch(() => ({ rows: [{ oldest: 0, log: 0 }] }));
      oldest = Math.max(oldest, Number(r.rows[0].oldest));
      peakLog = Math.max(peakLog, Number(r.rows[0].log));
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  return async () => {
    on = false;
    await loop;
    return { oldest, peakLog };
  };
}

async function measure(tool: Tool, s: DebianServer, rows: number, writers: number, o: Options): Promise<Result> {
  const db = `bench_${tool}`;
  const home = await prepare(tool, s, db, rows, o);
  const c = await client(s, db, 'bench monitor');
  const size = async (table = 'table_for_repack') => Number((await c.query(`SELECT pg_total_relation_size($1::regclass) AS n`, [table])).rows[0].n);
  const sizeBefore = await size();
  const sessions = await Promise.all(Array.from({ length: writers }, () => client(s, db, 'bench writer')));
  const w = new BenchWriters(sessions, rows, o.rate);
  const reader = writers > 0 ? new ViewReader(await client(s, db, 'bench reader'), rows, o.rate) : undefined;
  w.start();
  w.mark();
  reader?.start();
  await new Promise((r) => setTimeout(r, o.baselineSeconds * 1000));
  const before = w.mark();
  const lsn0 = (await c.query(`SELECT pg_current_wal_lsn() AS l`)).rows[0].l;
  const stopSampling = tool === 'rpcl' ? sampler(await client(s, db, 'bench sampler')) : undefined;
  if (reader) reader.worstMs = 0;
  const t0 = performance.now();
  await runTool(tool, s, db, home);
  const wallSeconds = (performance.now() - t0) / 1000;
  rmSync(home, { recursive: true, force: true });
  const during = w.mark();
  const sampled = await stopSampling?.();
  const walBytes = Number((await c.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS b`, [lsn0])).rows[0].b);
  const readerWorst = reader?.worstMs ?? 0;
  await w.stop();
  await reader?.stop();
  await Promise.all(sessions.map((x) => x.end()));
  const dataEqual = await equalsControl(c);
  const result: Result = {
    tool, rows, writers, wallSeconds, before, during, sizeBefore, sizeAfter: await size(tool === 'sql_floor' ? FLOOR_TABLE : undefined),
    dataEqual, walBytes, writerErrors: w.errors.length, readerWorst, readerErrors: reader?.errors ?? [],
    oldestSnapshotSeconds: sampled?.oldest, peakLogBytes: sampled?.peakLog,
  };
  await c.end();
  return result;
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
const ms = (n: number) => `${n.toFixed(1)}`;

function print(results: Result[], o: Options): void {
  if (o.uniqueForExclude) console.log('variant: the EXCLUDE constraint replaced by a UNIQUE index on the same column');
  console.log(
    o.rate > 0
      ? `writers: ${o.rate} transactions/s each, latency counted from when each transaction was due`
      : 'writers: back to back, as fast as each can go',
  );
  const header = ['tool', 'rows', 'writers', 'wall s', 'p50 ms', 'p99 ms', 'worst ms', 'worst before ms', 'w/s before', 'w/s during', 'during/before', 'reader worst ms', 'app errors', 'size before', 'size after', 'equal', 'WAL', 'oldest snap s', 'peak log'];
  const lines = results.map((r) => [
    r.tool, String(r.rows), String(r.writers), r.wallSeconds.toFixed(1), ms(r.during.p50), ms(r.during.p99), ms(r.during.worst),
    ms(r.before.worst),
    r.before.perSecond.toFixed(0), r.during.perSecond.toFixed(0),
    r.writers === 0 ? '-' : `${((100 * r.during.perSecond) / Math.max(1, r.before.perSecond)).toFixed(0)}%`,
    r.writers === 0 ? '-' : ms(r.readerWorst), String(r.writerErrors + r.readerErrors.length),
    mb(r.sizeBefore), mb(r.sizeAfter), r.dataEqual ? 'yes' : 'NO', mb(r.walBytes),
    r.oldestSnapshotSeconds === undefined ? '-' : r.oldestSnapshotSeconds.toFixed(1), r.peakLogBytes === undefined ? '-' : mb(r.peakLogBytes),
  ]);
  printTable(header, lines);
  if (o.repeat > 1) printSummary(results, o);
  for (const rows of new Set(results.map((r) => r.rows))) {
    for (const writers of new Set(results.map((r) => r.writers))) {
      const get = (t: Tool) => summary(results.filter((r) => r.tool === t && r.rows === rows && r.writers === writers));
      const [a, b, f] = [get('rpcl'), get('pg_repack'), get('sql_floor')];
      const of = o.repeat > 1 ? ` (medians of ${o.repeat} runs)` : '';
      if (a && b) {
        console.log(
          `rpcl / pg_repack (${rows} rows, ${writers} writers)${of}: wall ${(a.wall / b.wall).toFixed(2)}, ` +
            `worst stall ${(a.worst / Math.max(0.001, b.worst)).toFixed(2)}, size after ${(a.sizeAfter / b.sizeAfter).toFixed(3)}`,
        );
      }
      if (f && (a || b)) {
        console.log(
          `plain-SQL floor (${rows} rows, ${writers} writers)${of}: ${f.wall.toFixed(2)} s` +
            (b ? `, floor / pg_repack ${(f.wall / b.wall).toFixed(2)}` : '') +
            (a ? `, rpcl / floor ${(a.wall / f.wall).toFixed(2)}` : ''),
        );
      }
    }
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Medians (and extremes) of one tool's runs in one cell; undefined when it did not run. */
function summary(runs: Result[]) {
  if (runs.length === 0) return undefined;
  const of = (f: (r: Result) => number) => runs.map(f);
  return {
    runs: runs.length,
    wall: median(of((r) => r.wallSeconds)),
    wallMin: Math.min(...of((r) => r.wallSeconds)),
    wallMax: Math.max(...of((r) => r.wallSeconds)),
    p99: median(of((r) => r.during.p99)),
    worst: median(of((r) => r.during.worst)),
    worstMax: Math.max(...of((r) => r.during.worst)),
    ratio: median(of((r) => (100 * r.during.perSecond) / Math.max(1, r.before.perSecond))),
    sizeAfter: median(of((r) => r.sizeAfter)),
  };
}

function printSummary(results: Result[], o: Options): void {
  console.log(`\nmedians of ${o.repeat} runs (range in brackets)`);
  const header = ['tool', 'rows', 'writers', 'wall s', 'p99 ms', 'worst ms', 'during/before', 'size after'];
  const lines: string[][] = [];
  for (const rows of o.rows) {
    for (const writers of o.writers) {
      for (const tool of o.tools) {
        const s = summary(results.filter((r) => r.tool === tool && r.rows === rows && r.writers === writers));
        if (!s) continue;
        lines.push([
          tool, String(rows), String(writers), `${s.wall.toFixed(2)} (${s.wallMin.toFixed(2)}-${s.wallMax.toFixed(2)})`,
          writers === 0 ? '-' : ms(s.p99), writers === 0 ? '-' : `${ms(s.worst)} (max ${ms(s.worstMax)})`,
          writers === 0 ? '-' : `${s.ratio.toFixed(0)}%`, mb(s.sizeAfter),
        ]);
      }
    }
  }
  printTable(header, lines);
}

function printTable(header: string[], lines: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const unknown = o.tools.filter((t) => !ALL_TOOLS.includes(t));
  if (unknown.length > 0) throw new Error(`unknown --tools ${unknown.join(', ')}: choose from ${ALL_TOOLS.join(', ')}`);
  const server = await startDebianServer((m) => console.error(m));
  const results: Result[] = [];
  try {
    for (const rows of o.rows) {
      for (const writers of o.writers) {
        for (let run = 1; run <= o.repeat; run++) {
          for (const tool of o.tools) {
            console.error(`${tool}: ${rows} rows, ${writers} writers${o.repeat > 1 ? `, run ${run} of ${o.repeat}` : ''} ...`);
            results.push(await measure(tool, server, rows, writers, o));
          }
        }
      }
    }
  } finally {
    server.stop();
  }
  print(results, o);
  for (const r of results) for (const e of r.readerErrors) console.error(`${r.tool}: the reader through the view got: ${e}`);
  if (results.some((r) => !r.dataEqual || r.writerErrors > 0 || r.readerErrors.length > 0)) process.exitCode = 1;
}

await main();
