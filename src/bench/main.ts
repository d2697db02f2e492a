/**
 * `npm run bench`: the seed example with N rows, half deleted, under W writers, repacked by
 * rpcl, by pg_repack and by VACUUM FULL (and a reader through the table's view), each on its
 * own database of the same Debian PostgreSQL 15 server, in one run, next to the plain-SQL floor
 * (floor.ts) that bounds any tool limited to plain SQL. Prints a table of runs (and of medians
 * with --repeat); figures, not pass/fail.
 *
 * Options: --rows and --writers (lists), --tools (rpcl, pg_repack, vacuum_full, sql_floor),
 * --repeat N, --quick (100,000 rows, 2 writers, unless given), --rate, --parallel,
 * --baseline (seconds of writers before each tool), --unique-for-exclude.
 * --rpcl-keys "k=v,k=v" writes keys into rpcl's connection section (over the bench's own
 * settings); --rpcl-variants "a:k=v,k=v;b:k=v" runs rpcl once per key set, each its own
 * entry `rpcl[a]`, `rpcl[b]` (on top of --rpcl-keys), to compare settings on the same data.
 *
 * While each tool runs, a sampler (sampler.ts) reads every 100 ms the age of the tool's
 * oldest open transaction and the server's WAL position, for the worst transaction age and
 * the peak WAL rate over 1-second windows: a big table's repack must keep both bounded, and
 * only samples taken during the run show them.
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
import { BenchWriters } from '../demo/writers.js';
import { ViewReader } from '../demo/readers.js';
import { dropOldTable, FLOOR_TABLE, runFloor } from './floor.js';
import { parseArgs, type Options } from './options.js';
import { print, type Result } from './report.js';
import { benchConfigToml, benchDefaults } from './rpcl-keys.js';
import { benchToolApp, startSampler } from './sampler.js';
import type { Tool, ToolRun } from './tools.js';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function client(s: DebianServer, database: string, app = 'bench'): Promise<pg.Client> {
  const c = new pg.Client({ host: s.host, port: s.port, user: s.user, database, application_name: app });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/**
 * The seed example with `rows` rows, loaded once per size into a template database: every tool
 * then starts from a file copy of the same pages (CREATE DATABASE ... TEMPLATE), which takes
 * seconds where loading 10M rows takes minutes.
 */
async function template(s: DebianServer, rows: number, o: Options): Promise<string> {
  const name = `bench_template_${rows}${o.uniqueForExclude ? '_unique' : ''}`;
  const admin = await client(s, 'postgres');
  try {
    if ((await admin.query(`SELECT 1 FROM pg_database WHERE datname = $1`, [name])).rows.length > 0) return name;
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const c = await client(s, name);
  await loadSeedExample(c, rows);
  if (o.uniqueForExclude) {
    // Same guarantee and the same five indexes; only the constraint kind differs (an EXCLUDE
    // constraint can only be added by ALTER TABLE, which re-checks every row).
    await c.query(`ALTER TABLE table_for_repack DROP CONSTRAINT table_for_repack_excluded_excl`);
    await c.query(`CREATE UNIQUE INDEX table_for_repack_excluded_key ON table_for_repack (excluded)`);
  }
  await c.end();
  return name;
}

/**
 * A fresh database with the seed example, and each tool's one-time set-up outside the timed
 * part: pg_repack's extension, rpcl's helper schema (both are installed once per database).
 * Returns rpcl's HOME with its config file.
 */
async function prepare(entry: ToolRun, s: DebianServer, db: string, rows: number, o: Options): Promise<string> {
  const { tool } = entry;
  const tpl = await template(s, rows, o);
  const admin = await client(s, 'postgres');
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${db} TEMPLATE ${tpl} STRATEGY FILE_COPY`);
  await admin.end();
  const c = await client(s, db);
  if (tool === 'pg_repack') await c.query(`CREATE EXTENSION pg_repack`);
  const home = mkdtempSync(join(tmpdir(), 'rpcl-bench-home-'));
  mkdirSync(join(home, '.repcloud', 'config'), { recursive: true });
  writeFileSync(
    join(home, '.repcloud', 'config', 'bench.toml'),
    benchConfigToml({ host: s.host, port: s.port, user: s.user, database: db }, new Map([...benchDefaults(o.parallel), ...entry.keys])),
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

async function runTool(tool: Tool, s: DebianServer, db: string, home: string, writers: number): Promise<void> {
  if (tool === 'vacuum_full') {
    const c = await client(s, db, benchToolApp('vacuum_full'));
    await c.query(`VACUUM FULL table_for_repack`);
    await c.end();
  } else if (tool === 'sql_floor') {
    const [a, b] = [await client(s, db, benchToolApp('sql_floor')), await client(s, db, benchToolApp('sql_floor'))];
    await runFloor(a, b, writers === 0);
    await Promise.all([a.end(), b.end()]);
  } else if (tool === 'pg_repack') {
    await run(s.pgRepack, ['-h', s.host, '-p', String(s.port), '-U', s.user, '-d', db, '-t', 'public.table_for_repack', '--no-superuser-check']);
  } else {
    const r = await rpcl(home, ['repack_tables']);
    if (process.env.RPCL_BENCH_TRACE || process.env.RPCL_BENCH_LOG) console.error(r.stderr);
  }
}

async function measure(entry: ToolRun, s: DebianServer, rows: number, writers: number, o: Options): Promise<Result> {
  const { tool, label } = entry;
  const db = `bench_${tool}`;
  const home = await prepare(entry, s, db, rows, o);
  const c = await client(s, db, 'bench monitor');
  const size = async (table = 'table_for_repack') => Number((await c.query(`SELECT pg_total_relation_size($1::regclass) AS n`, [table])).rows[0].n);
  const sizeBefore = await size();
  const sessions = await Promise.all(Array.from({ length: writers }, () => client(s, db, 'bench writer')));
  const w = new BenchWriters(sessions, rows, o.rate);
  const reader = writers > 0 ? new ViewReader(await client(s, db, 'bench reader'), rows, o.rate) : undefined;
  const samplerSession = await client(s, db, 'bench sampler');
  w.start();
  w.mark();
  reader?.start();
  await new Promise((r) => setTimeout(r, o.baselineSeconds * 1000));
  const before = w.mark();
  const lsn0 = (await c.query(`SELECT pg_current_wal_lsn() AS l`)).rows[0].l;
  const stopSampling = startSampler(samplerSession, tool);
  if (reader) reader.worstMs = 0;
  const t0 = performance.now();
  await runTool(tool, s, db, home, writers);
  let wallSeconds = (performance.now() - t0) / 1000;
  const during = w.mark();
  const sampled = await stopSampling();
  rmSync(home, { recursive: true, force: true });
  const walBytes = Number((await c.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS b`, [lsn0])).rows[0].b);
  const readerWorst = reader?.worstMs ?? 0;
  await w.stop();
  await reader?.stop();
  await Promise.all([...sessions, samplerSession].map((x) => x.end()));
  if (process.env.RPCL_BENCH_TRACE) console.error(`${label}: ${sampled.samples} samples in ${wallSeconds.toFixed(1)} s`);
  // Without writers the floor dropped the old table, so its copy is what must equal the control.
  const floorDropped = tool === 'sql_floor' && writers === 0;
  const dataEqual = await equalsControl(c, floorDropped ? FLOOR_TABLE : undefined);
  if (tool === 'sql_floor' && !floorDropped) {
    const t = performance.now();
    await dropOldTable(c);
    wallSeconds += (performance.now() - t) / 1000;
  }
  const result: Result = {
    tool, label, rows, writers, wallSeconds, before, during, sizeBefore, sizeAfter: await size(tool === 'sql_floor' ? FLOOR_TABLE : undefined),
    dataEqual, walBytes, writerErrors: w.errors.length, readerWorst, readerErrors: reader?.errors ?? [],
    peakWalBytesPerSecond: sampled.peakWalBytesPerSecond, worstXactAgeSeconds: sampled.worstXactAgeSeconds,
    oldestSnapshotSeconds: sampled.oldestSnapshotSeconds, peakLogBytes: sampled.peakLogBytes,
  };
  await c.end();
  return result;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const server = await startDebianServer((m) => console.error(m));
  const results: Result[] = [];
  try {
    for (const rows of o.rows) {
      for (const writers of o.writers) {
        for (let run = 1; run <= o.repeat; run++) {
          for (const entry of o.runs) {
            console.error(`${entry.label}: ${rows} rows, ${writers} writers${o.repeat > 1 ? `, run ${run} of ${o.repeat}` : ''} ...`);
            results.push(await measure(entry, server, rows, writers, o));
          }
        }
      }
    }
  } finally {
    server.stop();
  }
  print(results, o);
  for (const r of results) for (const e of r.readerErrors) console.error(`${r.label}: the reader through the view got: ${e}`);
  if (results.some((r) => !r.dataEqual || r.writerErrors > 0 || r.readerErrors.length > 0)) process.exitCode = 1;
}

await main();
