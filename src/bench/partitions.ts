/**
 * `npm run bench:partitions`: a partitioned table `events` (P range partitions of R rows, half
 * deleted) repacked by rpcl (the parent in `tables`: each leaf in turn), by pg_repack
 * (`-I public.events`: the parent and its inheritors) and by VACUUM FULL of each partition in
 * turn, each on a fresh database of the same Debian PostgreSQL 15 server, under W writers back
 * to back (updates, partition-key changes that move rows, inserts, deletes, all mirrored into
 * events_control) and one reader through the view. Prints a table of figures, not pass/fail.
 *
 * Options: --partitions P (10), --rows-per-partition R (1,000,000), --writers W (2),
 * --tools rpcl,pg_repack,vacuum_full (all), --reader-rate reads/s (100), --baseline seconds of
 * writers before each tool (2), --parallel (rpcl's parallel_sessions, 2). Each tool's output
 * is kept in <tmpdir>/bench-partitions-<tool>.log.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { summarize } from '../demo/writers.js';
import { isoTimestamp } from '../report/logger.js';
import { startDebianServer, type DebianServer } from './debian-server.js';
import { checkIntact, partitionedSize, PartitionWriters, RangeReader, seedEvents } from './partition-workload.js';
import { benchConfigToml, benchDefaults } from './rpcl-keys.js';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const TOOLS = ['rpcl', 'pg_repack', 'vacuum_full'] as const;
type Tool = (typeof TOOLS)[number];

interface Options {
  partitions: number;
  rowsPerPartition: number;
  writers: number;
  tools: Tool[];
  readerRate: number;
  baselineSeconds: number;
  parallel: number;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string, d: number) => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? Number(argv[i + 1]) : d;
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a number (got ${argv[i + 1]})`);
    return v;
  };
  const i = argv.indexOf('--tools');
  const tools = (i >= 0 ? (argv[i + 1] ?? '').split(',') : [...TOOLS]) as Tool[];
  const unknown = tools.filter((t) => !TOOLS.includes(t));
  if (unknown.length > 0) throw new Error(`unknown --tools ${unknown.join(', ')}: choose from ${TOOLS.join(', ')}`);
  return {
    partitions: get('partitions', 10),
    rowsPerPartition: get('rows-per-partition', 1_000_000),
    writers: get('writers', 2),
    tools,
    readerRate: get('reader-rate', 100),
    baselineSeconds: get('baseline', 2),
    parallel: get('parallel', 2),
  };
}

interface Result {
  tool: Tool;
  wallSeconds: number;
  sizeBefore: number;
  sizeAfter: number;
  writes: number;
  p99: number;
  worst: number;
  readerP99: number;
  readerWorst: number;
  worstEndedAt?: Date;
  readerWorstEndedAt?: Date;
  /** The tool's own failure, the writers' and the reader's errors. */
  toolError?: string;
  writerErrors: string[];
  readerErrors: string[];
  dataEqual: boolean;
  problems: string[];
  /** rpcl: the longest `lock held` of its swaps (the parent's ACCESS EXCLUSIVE); vacuum_full: the longest VACUUM FULL of one partition. */
  longestLockMs?: number;
  logFile: string;
}

async function client(s: DebianServer, database: string, app: string): Promise<pg.Client> {
  const c = new pg.Client({ host: s.host, port: s.port, user: s.user, database, application_name: app });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Runs the tool; returns its output (for the log file) and, for rpcl and vacuum_full, the longest lock. */
async function runTool(tool: Tool, s: DebianServer, db: string, home: string): Promise<{ output: string; longestLockMs?: number }> {
  if (tool === 'vacuum_full') {
    const c = await client(s, db, 'bench vacuum_full');
    const leaves = await c.query<{ name: string }>(`SELECT relid::regclass::text AS name FROM pg_partition_tree('events') WHERE isleaf ORDER BY relid`);
    const lines: string[] = [];
    let longest = 0;
    for (const { name } of leaves.rows) {
      const t = performance.now();
      await c.query(`VACUUM FULL ${name}`);
      const took = performance.now() - t;
      longest = Math.max(longest, took);
      lines.push(`VACUUM FULL ${name}: ${took.toFixed(0)} ms`);
    }
    await c.end();
    return { output: lines.join('\n'), longestLockMs: longest };
  }
  if (tool === 'pg_repack') {
    const r = await run(s.pgRepack, ['-h', s.host, '-p', String(s.port), '-U', s.user, '-d', db, '-I', 'public.events', '--no-superuser-check'], {
      maxBuffer: 1 << 28,
    });
    return { output: r.stdout + r.stderr };
  }
  const r = await run(process.execPath, [join(root, 'bin', 'rpcl.js'), 'repack_tables', '--config', 'bench', '--debug'], {
    env: { ...process.env, HOME: home },
    maxBuffer: 1 << 28,
  });
  const held = [...r.stderr.matchAll(/swap attempt \d+\/\d+ succeeded: lock held (\d+) ms/g)].map((m) => Number(m[1]));
  return { output: r.stdout + r.stderr, longestLockMs: held.length > 0 ? Math.max(...held) : undefined };
}

async function measure(tool: Tool, s: DebianServer, o: Options): Promise<Result> {
  const db = `bench_part_${tool}`;
  const admin = await client(s, 'postgres', 'bench');
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${db}`);
  await admin.end();
  const c = await client(s, db, 'bench monitor');
  console.error(`${tool}: seeding ${o.partitions} x ${o.rowsPerPartition} rows ...`);
  await seedEvents(c, o.partitions, o.rowsPerPartition);
  const home = mkdtempSync(join(tmpdir(), 'rpcl-bench-home-'));
  if (tool === 'pg_repack') await c.query(`CREATE EXTENSION pg_repack`);
  if (tool === 'rpcl') {
    mkdirSync(join(home, '.repcloud', 'config'), { recursive: true });
    const conn = { host: s.host, port: s.port, user: s.user, database: db };
    writeFileSync(join(home, '.repcloud', 'config', 'bench.toml'), benchConfigToml(conn, benchDefaults(o.parallel), 'public.events'));
    await run(process.execPath, [join(root, 'bin', 'rpcl.js'), 'create_schema', '--config', 'bench', '--debug'], { env: { ...process.env, HOME: home } });
  }
  await c.query('CHECKPOINT');
  const sizeBefore = await partitionedSize(c);

  const maxId = o.partitions * o.rowsPerPartition;
  const w = new PartitionWriters(await Promise.all(Array.from({ length: o.writers }, () => client(s, db, 'bench writer'))), maxId);
  const reader = new RangeReader(await client(s, db, 'bench reader'), maxId, o.readerRate);
  w.start();
  reader.start();
  await new Promise((r) => setTimeout(r, o.baselineSeconds * 1000));
  w.rec.reset();
  reader.rec.reset();
  console.error(`${tool}: running under ${o.writers} writers and a reader ...`);
  const t0 = performance.now();
  let toolError: string | undefined;
  let output = '';
  let longestLockMs: number | undefined;
  try {
    ({ output, longestLockMs } = await runTool(tool, s, db, home));
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    toolError = e.message.split('\n')[0];
    output = `${e.stdout ?? ''}${e.stderr ?? ''}\n${e.message}`;
  }
  const wallSeconds = (performance.now() - t0) / 1000;
  const [writeWindow, readWindow] = [w.rec.reset(), reader.rec.reset()];
  const [writes, reads] = [summarize(writeWindow.latencies, wallSeconds), summarize(readWindow.latencies, wallSeconds)];
  await w.stop();
  await reader.stop();
  rmSync(home, { recursive: true, force: true });
  const logFile = join(tmpdir(), `bench-partitions-${tool}.log`);
  writeFileSync(logFile, output);
  const { dataEqual, problems } = await checkIntact(c, o.partitions);
  const result: Result = {
    tool, wallSeconds, sizeBefore, sizeAfter: await partitionedSize(c), writes: writes.count, p99: writes.p99, worst: writes.worst,
    readerP99: reads.p99, readerWorst: reads.worst, worstEndedAt: writeWindow.worstEndedAt, readerWorstEndedAt: readWindow.worstEndedAt, toolError, writerErrors: w.rec.errors, readerErrors: reader.rec.errors,
    dataEqual, problems, longestLockMs, logFile,
  };
  await c.end();
  return result;
}

function printTable(header: string[], lines: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(fmt(header));
  console.log(`|${widths.map((n) => '-'.repeat(n + 2)).join('|')}|`);
  for (const l of lines) console.log(fmt(l));
}

/** Each distinct message once, with how often it came. */
function counted(errors: string[]): string[] {
  const n = new Map<string, number>();
  for (const e of errors) n.set(e, (n.get(e) ?? 0) + 1);
  return [...n].map(([e, k]) => `${k} x ${e}`);
}

/** Local time to the millisecond, as in rpcl's log. */
const at = (d: Date | undefined) => (d ? isoTimestamp(d).slice(11, 23) : '-');

function print(results: Result[], o: Options): void {
  const mb = (n: number) => (n / (1024 * 1024)).toFixed(1);
  const ms = (n: number) => n.toFixed(1);
  console.log(
    `${o.partitions} partitions x ${o.rowsPerPartition} rows (half deleted), ${o.writers} writers back to back, ` +
      `1 reader through the view at ${o.readerRate}/s; latencies while the tool ran`,
  );
  printTable(
    ['tool', 'wall s', 'size before MB', 'size after MB', 'writes', 'writers p99 ms', 'writers worst ms', 'reader p99 ms', 'reader worst ms',
      'errors', 'data equal', 'longest lock ms'],
    results.map((r) => [
      r.tool, r.wallSeconds.toFixed(1), mb(r.sizeBefore), mb(r.sizeAfter), String(r.writes), ms(r.p99), ms(r.worst), ms(r.readerP99),
      ms(r.readerWorst), String(r.writerErrors.length + r.readerErrors.length + (r.toolError ? 1 : 0)),
      r.dataEqual && r.problems.length === 0 ? 'yes' : 'NO', r.longestLockMs === undefined ? '-' : ms(r.longestLockMs),
    ]),
  );
  console.log('longest lock: rpcl, the longest "lock held" of its swaps (ACCESS EXCLUSIVE on events); vacuum_full, the longest VACUUM FULL of one partition (ACCESS EXCLUSIVE on it)');
  for (const r of results) {
    if (r.toolError) console.log(`${r.tool}: the tool failed: ${r.toolError}`);
    for (const e of counted(r.writerErrors)) console.log(`${r.tool}: writers got ${e}`);
    for (const e of counted(r.readerErrors)) console.log(`${r.tool}: the reader got ${e}`);
    for (const p of r.problems) console.log(`${r.tool}: ${p}`);
    if (!r.dataEqual) console.log(`${r.tool}: events differs from events_control`);
    console.log(`${r.tool}: the writers' worst stall ended at ${at(r.worstEndedAt)}, the reader's at ${at(r.readerWorstEndedAt)}`);
    console.log(`${r.tool}: output in ${r.logFile}`);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const server = await startDebianServer((m) => console.error(m));
  const results: Result[] = [];
  try {
    for (const tool of o.tools) results.push(await measure(tool, server, o));
  } finally {
    server.stop();
  }
  print(results, o);
  if (results.some((r) => r.toolError || !r.dataEqual || r.problems.length > 0 || r.writerErrors.length + r.readerErrors.length > 0)) process.exitCode = 1;
}

await main();
