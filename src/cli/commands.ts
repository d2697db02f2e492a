/**
 * The command table: repcloud's command names, each with its help text and a thin handler.
 * Handlers return an exit code; they hold no logic of their own beyond wiring.
 */
import type pg from 'pg';
import type { Argv } from 'yargs';
import type { ConnectionConfig } from '../config/types.js';
import { connect } from '../db/connect.js';
import { ExitCode } from '../errors.js';
import { createHelperSchema, dropHelperSchema, dropSchemaPlan } from '../execute/helper-schema.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { confirmRemoval } from './confirm.js';
import type { Logger } from '../report/logger.js';
import type { GlobalArgs, Runtime } from './runtime.js';
import { abortRepack } from './abort.js';
import { dryRun } from './dry-run.js';
import { setPaused } from './pause.js';
import { replayUntilStopped, stopRun } from './long-run.js';
import { reported } from './reported.js';
import { statusCommand } from './status.js';
import { repackTables } from './repack.js';
import { indexNameProblems, parseIndexOption, repackIndexes, repackIndexesDryRun } from './repack-indexes.js';
import type { Problem } from './preflight.js';
import { isProcessAlive, pidFilePath, readPid } from './pidfile.js';
import { summaryLines } from './summary.js';
import { renderConnectionsJson, renderConnectionsTable } from './show-connections.js';
import { showBloat } from './show-bloat.js';

export interface CommandSpec {
  name: string;
  describe: string;
  /** Holds `<pid_dir>/<command>_<config>.pid` while running. */
  pidFile: boolean;
  /** Accepts --json (its output is data). */
  json?: boolean;
  /** Accepts --dry-run. */
  dryRun?: boolean;
  /** Detaches into the background (log_dest = "file", no --debug); accepts --background/--foreground. */
  longRunning?: boolean;
  /** Accepts --start-replay. */
  startReplay?: boolean;
  /** Removes things: lists them and asks on a terminal; accepts --yes. */
  confirms?: boolean;
  /** Options of this command only (yargs builder). */
  options?: (y: Argv) => Argv;
  /** The command's own checks before it detaches (read-only), beside preflight's. */
  preflight?: (rt: Runtime, args: GlobalArgs) => Promise<Problem[]>;
  run(rt: Runtime, args: GlobalArgs): Promise<number>;
}

export const commands: CommandSpec[] = [
  {
    name: 'show_connections',
    describe: 'print every [connections.NAME] of the config with all keys except the password',
    pidFile: false,
    json: true,
    async run(rt, args) {
      process.stdout.write(
        `${args.json ? renderConnectionsJson(rt.connections) : renderConnectionsTable(rt.connections)}\n`,
      );
      return ExitCode.ok;
    },
  },
  {
    name: 'create_schema',
    describe: "install rpcl's helper schema in each selected connection's database (a second run only warns)",
    pidFile: true,
    async run(rt) {
      await forEachConnection(rt, async (client, conn, log) => {
        const result = await createHelperSchema(client, log);
        process.stdout.write(`${conn.name}: ${result === 'created' ? `created the helper schema ${HELPER_SCHEMA}` : `the helper schema ${HELPER_SCHEMA} already exists: nothing to do`}\n`);
      });
      return ExitCode.ok;
    },
  },
  {
    name: 'drop_schema',
    describe:
      "remove rpcl's helper schema and everything rpcl created in the database: capture triggers left on user tables, copies, logs",
    pidFile: true,
    confirms: true,
    async run(rt, args) {
      let code: number = ExitCode.ok;
      await forEachConnection(rt, async (client, conn, log) => {
        const plan = await dropSchemaPlan(client);
        if (plan === null) {
          process.stdout.write(`${conn.name}: no helper schema ${HELPER_SCHEMA} in this database: nothing to drop\n`);
          return;
        }
        if (!(await confirmRemoval(`${conn.name}: drop_schema will remove:`, plan, { yes: args.yes === true }))) {
          process.stdout.write(`${conn.name}: nothing was removed\n`);
          code = ExitCode.interrupted;
          return;
        }
        const result = await dropHelperSchema(client, { lockTimeoutMs: conn.lockTimeoutMs }, log);
        process.stdout.write(`${conn.name}: ${result.dropped ? `dropped the helper schema ${HELPER_SCHEMA}` : 'nothing to drop'}` +
          `${result.triggersRemoved.length > 0 ? `; removed capture triggers ${result.triggersRemoved.join(', ')}` : ''}\n`);
      });
      return code;
    },
  },
  {
    name: 'repack_tables',
    describe: 'repack every selected table of the selected connection(s), one after another, swap included',
    pidFile: true,
    dryRun: true,
    longRunning: true,
    async run(rt, args) {
      if (args.dryRun) return dryRun(rt);
      return reported(rt, 'repack_tables', async () => {
        const result = await repackTables(rt);
        process.stdout.write(summaryLines(result.outcomes).map((l) => `${l}\n`).join(''));
        return result;
      });
    },
  },
  {
    name: 'repack_indexes',
    describe: "rebuild the selected tables' indexes online, one by one, with REINDEX INDEX CONCURRENTLY (narrowed by the indexes key or --index)",
    pidFile: true,
    dryRun: true,
    longRunning: true,
    options: (y) =>
      y.option('index', {
        type: 'string',
        array: true,
        describe: 'rebuild only this index (schema.index; repeatable); replaces the connection\'s indexes key for this run',
      }),
    preflight: (rt, args) => indexNameProblems(rt, parseIndexOption((args as { index?: unknown }).index)),
    async run(rt, args) {
      const names = parseIndexOption((args as { index?: unknown }).index);
      if (args.dryRun) return repackIndexesDryRun(rt, { names });
      return reported(rt, 'repack_indexes', async () => {
        const result = await repackIndexes(rt, { names });
        process.stdout.write(summaryLines(result.outcomes).map((l) => `${l}\n`).join(''));
        return result;
      });
    },
  },
  {
    name: 'prepare_repack',
    describe: 'do everything up to the swap for every selected table; a later repack_tables swaps without copying again',
    pidFile: true,
    dryRun: true,
    longRunning: true,
    startReplay: true,
    async run(rt, args) {
      if (args.dryRun) return dryRun(rt);
      const code = await reported(rt, 'prepare_repack', async () => {
        const result = await repackTables(rt, 'prepare');
        process.stdout.write(summaryLines(result.outcomes).map((l) => `${l}\n`).join(''));
        return result;
      });
      if (!args.startReplay || code !== ExitCode.ok) return code;
      return replayUntilStopped(rt);
    },
  },
  {
    name: 'replay_data',
    describe: 'keep prepared copies in sync until stopped (long-running)',
    pidFile: true,
    longRunning: true,
    run: (rt) => replayUntilStopped(rt),
  },
  {
    name: 'abort_repack',
    describe: 'drop every prepared or half-done copy, log and trigger; leave the original tables as they were',
    pidFile: true,
    confirms: true,
    run: (rt, args) => abortRepack(rt, { yes: args.yes === true }),
  },
  {
    name: 'status',
    describe: 'per table: phase, progress, backlog, change and replay rates, predicted swap time, elapsed and remaining time, last error',
    pidFile: false,
    json: true,
    run: (rt, args) => statusCommand(rt, args.json === true),
  },
  {
    name: 'show_bloat',
    describe: 'per selected table and its indexes: size, estimated bloat, what a repack gives back, vacuums, dead tuples, whether rpcl can repack it (read-only)',
    pidFile: false,
    json: true,
    run: (rt, args) => showBloat(rt, args.json === true),
  },
  {
    name: 'pause_repack',
    describe: 'pause the running repack_tables or prepare_repack of this config (from any host): no transaction, no lock, capture goes on',
    pidFile: false,
    run: (rt) => setPaused(rt, true),
  },
  {
    name: 'resume_repack',
    describe: 'resume a paused repack_tables or prepare_repack of this config',
    pidFile: false,
    run: (rt) => setPaused(rt, false),
  },
  {
    name: 'stop_repack',
    describe: 'stop a running repack_tables (or repack_indexes) of this config cleanly, through its pid file',
    pidFile: false,
    async run(rt) {
      // repack_indexes too, when it runs: a stop request cancels its rebuild and cleans up.
      const indexes = readPid(pidFilePath(rt.config.pidDir, 'repack_indexes', rt.config.name));
      if (indexes !== undefined && isProcessAlive(indexes)) await stopRun(rt, 'repack_indexes');
      return stopRun(rt, 'repack_tables');
    },
  },
  {
    name: 'stop_prepare',
    describe: 'stop a running prepare_repack of this config cleanly, through its pid file',
    pidFile: false,
    run: (rt) => stopRun(rt, 'prepare_repack'),
  },
  {
    name: 'stop_replay',
    describe: 'stop a running replay_data of this config cleanly, through its pid file',
    pidFile: false,
    run: (rt) => stopRun(rt, 'replay_data'),
  },
];

async function forEachConnection(
  rt: Runtime,
  body: (client: pg.Client, conn: ConnectionConfig, log: Logger) => Promise<void>,
): Promise<void> {
  for (const conn of rt.connections) {
    const log = rt.log.child({ connection: conn.name });
    log.debug(`connecting to connection ${conn.name}`);
    const client = await connect(conn, { home: rt.home, applicationName: 'rpcl' });
    try {
      await body(client, conn, log);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

