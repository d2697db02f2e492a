/**
 * `rpcl demo`: a throwaway PostgreSQL, the seed example with heavy bloat, a live write
 * workload mirrored into a control table, and the real repack_tables code path on it. Prints
 * what a DBA wants to know: size before and after, duration, the application's writes per
 * second and its worst stall, and whether the table still equals its control copy.
 */
import pg from 'pg';
import { repackTables } from '../cli/repack.js';
import type { Runtime } from '../cli/runtime.js';
import { defaultConnection } from '../config/load.js';
import type { Config, ConnectionConfig } from '../config/types.js';
import { startEmbeddedServer, type EmbeddedServer } from '../embedded/server.js';
import { formatBytes } from '../report/log-events.js';
import { createLogger, closeLogger } from '../report/logger.js';
import { equalsControl, loadSeedExample } from './seed.js';
import { BenchWriters } from './writers.js';

export interface DemoOptions {
  rows: number;
  writers: number;
  /** Transactions per second per writer; 0 = back to back. */
  rate: number;
  keep: boolean;
  home: string;
  major?: number;
  out: (line: string) => void;
}

export async function runDemo(o: DemoOptions): Promise<number> {
  o.out(`starting a throwaway PostgreSQL ${o.major ?? ''}...`.replace(' ...', '...'));
  const server = await startEmbeddedServer({ major: o.major, settings: { fsync: 'off', max_connections: '50' } });
  o.out(`its data directory: ${server.dataDir} (removed at the end)`);
  try {
    return await demoOn(server, o);
  } finally {
    if (o.keep) {
      o.out(
        `\nthe server is kept for inspection: psql "postgresql://${server.user}:${server.password}@${server.host}:${server.port}/rpcl_demo"` +
          '\npress Ctrl-C to stop it and remove its data',
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
    }
    await server.stop();
  }
}

async function session(s: EmbeddedServer, database: string, app: string): Promise<pg.Client> {
  const c = new pg.Client({ host: s.host, port: s.port, user: s.user, password: s.password, database, application_name: app });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function demoOn(server: EmbeddedServer, o: DemoOptions): Promise<number> {
  const admin = await session(server, 'postgres', 'rpcl demo');
  await admin.query('CREATE DATABASE rpcl_demo');
  await admin.end();
  const db = await session(server, 'rpcl_demo', 'rpcl demo');
  o.out(`building the seed example with ${o.rows} rows and half of them deleted...`);
  await loadSeedExample(db, o.rows);
  const size = async () => Number((await db.query(`SELECT pg_total_relation_size('table_for_repack') AS n`)).rows[0].n);
  const sizeBefore = await size();

  const writerSessions = await Promise.all(Array.from({ length: o.writers }, () => session(server, 'rpcl_demo', 'demo writer')));
  const writers = new BenchWriters(writerSessions, o.rows, o.rate);
  writers.start();
  writers.mark();
  await new Promise((r) => setTimeout(r, 3000));
  const before = writers.mark();
  const pace = o.rate > 0 ? `${o.rate} transactions/s each` : 'back to back';
  o.out(`${o.writers} writers running (${pace}): ${before.perSecond.toFixed(0)} writes/s; repacking table_for_repack...`);

  const conn: ConnectionConfig = {
    ...defaultConnection('demo'), host: server.host, port: server.port, user: server.user, password: server.password,
    database: 'rpcl_demo', sslmode: 'disable', schemas: [], tables: [{ schema: 'public', name: 'table_for_repack' }],
    lockTimeoutMs: 1000, checkTimeSeconds: 1, catchupTimeoutSeconds: 600,
  };
  const log = createLogger({ configName: 'demo', level: 'info', daysKeep: 1, console: true, secrets: [server.password] });
  const config: Config = {
    name: 'demo', file: '(demo)', pidDir: o.home,
    logging: { logDir: o.home, logLevel: 'info', logDest: 'console', logDaysKeep: 1 },
    notifier: { enableEmail: false }, connections: [conn],
  };
  const rt: Runtime = { home: o.home, config, log, connections: [conn], logsToConsole: true, close: () => closeLogger(log) };
  const started = performance.now();
  const { outcomes, exitCode } = await repackTables(rt);
  const seconds = (performance.now() - started) / 1000;
  const during = writers.mark();
  await writers.stop();
  await Promise.all(writerSessions.map((w) => w.end()));
  await rt.close();

  const equal = await equalsControl(db);
  const sizeAfter = await size();
  await db.end();
  const outcome = outcomes[0];
  o.out('');
  o.out(`result:                   ${outcome?.status ?? 'nothing ran'}${outcome?.reason ? ` (${outcome.reason})` : ''}`);
  o.out(`size before -> after:     ${formatBytes(sizeBefore)} -> ${formatBytes(sizeAfter)}`);
  o.out(`duration:                 ${seconds.toFixed(1)} s (swap lock held ${outcome?.swapHoldMs?.toFixed(0) ?? '?'} ms)`);
  o.out(`writes/s before, during:  ${before.perSecond.toFixed(0)}, ${during.perSecond.toFixed(0)}`);
  o.out(`writer latency during:    p99 ${during.p99.toFixed(1)} ms, worst stall ${during.worst.toFixed(1)} ms`);
  o.out(`writer errors:            ${writers.errors.length}`);
  o.out(`table equals control copy: ${equal ? 'yes' : 'NO'}`);
  return exitCode !== 0 ? exitCode : equal && writers.errors.length === 0 ? 0 : 1;
}
