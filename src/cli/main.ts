/** Entry point: parses arguments with yargs and maps every outcome to an exit code. */
import { createRequire } from 'node:module';
import yargs, { type Argv } from 'yargs';
import { ExitCode, RpclError, UsageError } from '../errors.js';
import { FILE_ONLY, redact } from '../report/logger.js';
import { commands, type CommandSpec } from './commands.js';
import { preflight } from './preflight.js';
import { homeDir } from '../config/paths.js';
import { detach } from './long-run.js';
import { openRuntime, type GlobalArgs } from './runtime.js';
import { DEFAULT_WRITER_RATE } from '../demo/writers.js';

const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

const globalOptions = ['--config', '--connection', '--debug', '--json', '--help', '--version'];

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = ExitCode.ok;
  // A reader that closed the pipe (`rpcl repack_tables --dry-run | head -1`) wants no more
  // output: later writes are dropped, the command finishes and keeps its exit code.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
  const parser = yargs(argv)
    .scriptName('rpcl')
    .usage('$0 <command> [options]\n\nRepack bloated PostgreSQL tables online, with plain SQL.')
    .option('config', {
      type: 'string',
      default: 'default',
      describe: 'config name under ~/.repcloud/config/, NAME.toml, or a path to a file',
    })
    .option('connection', { type: 'string', describe: 'work on this [connections.NAME] only (default: all, in file order)' })
    .option('debug', { type: 'boolean', default: false, describe: 'stay in the foreground and log to the console at debug level' })
    .version(version)
    .strict()
    .demandCommand(1, 'name a command')
    .recommendCommands()
    .exitProcess(false)
    .wrap(process.stdout.isTTY ? Math.min(120, process.stdout.columns) : null)
    .epilogue(
      'Command options (`rpcl <command> --help` describes them):\n' +
        '  repack_tables, prepare_repack, repack_indexes: --dry-run (print the plan, change nothing), --background / --foreground\n' +
        '  repack_indexes: --index schema.index (repeatable)\n' +
        '  replay_data: --background / --foreground; prepare_repack: --start-replay; status, show_connections: --json\n' +
        '  drop_schema, abort_repack: --yes (remove without asking on a terminal)\n' +
        '  demo: --rows, --writers, --rate, --keep\n' +
        'Long runs detach into the background from a terminal when log_dest = "file" (after checking what they can).\n' +
        'Exit codes: 0 ok, 1 internal error, 2 usage, 3 config, 4 connection, 5 refused table, 6 failed table, 7 already running, 130 interrupted.',
    )
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(usageMessage(msg));
    });
  for (const spec of commands) register(parser, spec, (code) => (exitCode = code));
  parser.command(
    'demo',
    'repack a bloated table on a throwaway embedded PostgreSQL while writers keep writing, and show the figures',
    (y) =>
      y
        .option('rows', { type: 'number', default: 200_000, describe: 'rows in the demo table (half are deleted first)' })
        .option('writers', { type: 'number', default: 2, describe: 'concurrent writer sessions' })
        .option('rate', { type: 'number', default: DEFAULT_WRITER_RATE, describe: 'transactions per second per writer (0: back to back)' })
        .option('keep', { type: 'boolean', default: false, describe: 'keep the server running for inspection until Ctrl-C' })
        .check((a) => {
          const bad = [
            !(Number.isInteger(a.rows) && a.rows >= 2) && `--rows must be a whole number of at least 2 (got ${a.rows})`,
            !(Number.isInteger(a.writers) && a.writers >= 0) && `--writers must be a whole number, 0 or more (got ${a.writers})`,
            !(Number.isFinite(a.rate) && a.rate >= 0) && `--rate must be 0 (back to back) or a number of transactions per second (got ${a.rate})`,
          ].filter(Boolean);
          if (bad.length > 0) throw new UsageError(usageMessage(bad.join('; ')));
          return true;
        }),
    async (args) => {
      const { runDemo } = await import('../demo/run.js');
      exitCode = await runDemo({
        rows: args.rows, writers: args.writers, rate: args.rate, keep: args.keep, home: homeDir(),
        out: (line) => process.stdout.write(`${line}\n`),
      });
    },
  );
  try {
    await parser.parseAsync();
    return exitCode;
  } catch (err) {
    return reportError(err);
  }
}

function register(parser: Argv, spec: CommandSpec, setExit: (code: number) => void): void {
  parser.command(
    spec.name,
    spec.describe,
    (y) => {
      if (spec.options) y = spec.options(y);
      if (spec.json) y.option('json', { type: 'boolean', default: false, describe: 'print JSON' });
      if (spec.dryRun) {
        y.option('dry-run', { type: 'boolean', default: false, describe: 'print the tables, refusals and SQL steps with their locks; change nothing' });
      }
      if (spec.confirms) {
        y.option('yes', { type: 'boolean', default: false, describe: 'do not ask before removing (no question is asked without a terminal anyway)' });
      }
      if (spec.startReplay) {
        y.option('start-replay', { type: 'boolean', default: false, describe: 'after preparing, keep the copies in sync until stopped' });
      }
      if (spec.longRunning) {
        y.option('background', { type: 'boolean', default: false, describe: 'detach into the background even without a terminal' });
        y.option('foreground', { type: 'boolean', default: false, describe: 'stay in the foreground (logs go to the log file)' });
      }
      return y;
    },
    async (args) => {
      const global = args as unknown as GlobalArgs;
      const detaching =
        spec.longRunning === true && !global.debug && !global.foreground && !global.dryRun &&
        (global.background || process.stdout.isTTY === true);
      // A dry run changes nothing, so it may run beside a real one; a detaching parent leaves
      // the pid file to its child.
      let rt = await openRuntime(global, { command: spec.name, pidFile: spec.pidFile && !global.dryRun && !detaching });
      if (detaching) {
        if (rt.config.logging.logDest === 'file') {
          // Everything that can be checked is checked here, where the user still sees it.
          // Table refusals are repack_tables' (a table without a key still has indexes to rebuild).
          const problems = await (async () => [
            ...(await preflight(rt, { tables: spec.name !== 'replay_data' && spec.name !== 'repack_indexes' })),
            ...(spec.preflight ? await spec.preflight(rt, global) : []),
          ])().finally(() => rt.close());
          if (problems.length > 0) {
            for (const p of problems) process.stderr.write(`rpcl: ${p.message}\n`);
            process.stderr.write(`rpcl: ${spec.name} did not start: fix the above, then run it again\n`);
            setExit(Math.max(...problems.map((p) => p.exitCode)));
            return;
          }
          setExit(detach(rt, spec.name, process.argv.slice(2)));
          return;
        }
        await rt.close();
        // log_dest = "console": stay in the foreground, as repcloud did.
        rt = await openRuntime(global, { command: spec.name, pidFile: spec.pidFile });
      }
      try {
        setExit(await spec.run(rt, global));
      } catch (err) {
        // To the log file only: reportError prints it on the terminal once.
        rt.log.error(err instanceof Error ? err.message : String(err), FILE_ONLY);
        throw err;
      } finally {
        await rt.close();
      }
    },
  );
}

function usageMessage(msg: string): string {
  const names = commands.map((c) => c.name).join(', ');
  return `${msg}\nValid commands: ${names}.\nValid options: ${globalOptions.join(', ')}.\nRun "rpcl --help" or "rpcl <command> --help" for details.`;
}

function reportError(err: unknown): number {
  if (err instanceof RpclError) {
    process.stderr.write(`rpcl: ${err.message}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.stderr.write(`rpcl: internal error: ${redact(message, process.env.PGPASSWORD ? [process.env.PGPASSWORD] : [])}\n`);
  return ExitCode.internal;
}
