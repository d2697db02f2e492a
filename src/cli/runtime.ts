/**
 * What every command needs before it acts: the ~/.repcloud layout, the validated config
 * (every problem reported before any database is touched), the logger, the selected
 * connections and, for commands that change a database, the pid file.
 */
import { mkdirSync } from 'node:fs';
import { readConfigFile } from '../config/load.js';
import { ensureLayout, homeDir, locateConfig } from '../config/paths.js';
import type { Config, ConnectionConfig } from '../config/types.js';
import { ExitCode, RpclError } from '../errors.js';
import { closeLogger, createLogger, type Logger } from '../report/logger.js';
import { acquirePidFile, pidFilePath, type PidFile } from './pidfile.js';

export interface GlobalArgs {
  config: string;
  connection?: string;
  debug: boolean;
  json?: boolean;
  dryRun?: boolean;
  startReplay?: boolean;
  background?: boolean;
  foreground?: boolean;
  /** drop_schema, abort_repack: do not ask before removing. */
  yes?: boolean;
}

export interface Runtime {
  home: string;
  config: Config;
  log: Logger;
  /** The connections this run works on, in file order. */
  connections: ConnectionConfig[];
  /** The log is printed on the console (--debug or log_dest = "console"). */
  logsToConsole: boolean;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  command: string;
  /** Commands that change a database hold a pid file: one run per command and config. */
  pidFile: boolean;
}

export async function openRuntime(args: GlobalArgs, opts: RuntimeOptions): Promise<Runtime> {
  const home = homeDir();
  ensureLayout(home);
  const location = locateConfig(args.config, home);
  const config = readConfigFile(location.file, location.name, home);
  const connections = selectConnections(config, args.connection);
  const log = createLogger({
    configName: config.name,
    level: args.debug ? 'debug' : config.logging.logLevel,
    logDir: config.logging.logDir,
    daysKeep: config.logging.logDaysKeep,
    console: args.debug || config.logging.logDest === 'console',
    format: config.logging.logFormat,
    secrets: secretsOf(config),
  });
  let pid: PidFile | undefined;
  if (opts.pidFile) {
    try {
      ensureDir(config.pidDir);
      pid = acquirePidFile(pidFilePath(config.pidDir, opts.command, config.name), opts.command, (stale) =>
        log.warning(
          `replaced a stale pid file for ${opts.command} (pid ${stale ?? 'unreadable'} is not running)`,
        ),
      );
    } catch (err) {
      await closeLogger(log);
      throw err;
    }
  }
  return {
    home,
    config,
    log,
    connections,
    logsToConsole: args.debug || config.logging.logDest === 'console',
    async close() {
      pid?.release();
      await closeLogger(log);
    },
  };
}

export function selectConnections(config: Config, name: string | undefined): ConnectionConfig[] {
  if (name === undefined) return config.connections;
  const found = config.connections.find((c) => c.name === name);
  if (found === undefined) {
    const known = config.connections.map((c) => c.name).join(', ');
    throw new RpclError(
      `unknown connection "${name}" in ${config.file}: known connections are ${known}. ` +
        'Use one of them with --connection, or add a [connections.NAME] section.',
      ExitCode.config,
    );
  }
  return [found];
}

export function secretsOf(config: Config): string[] {
  const secrets = config.connections.map((c) => c.password ?? '');
  secrets.push(config.notifier.email?.smtpPassword ?? '');
  if (process.env.PGPASSWORD) secrets.push(process.env.PGPASSWORD);
  return secrets.filter((s) => s.length > 0);
}

function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}
