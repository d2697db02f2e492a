/**
 * The winston logger every part of rpcl writes to. File output follows repcloud's layout:
 * `<log_dir>/repack_<config>.log`, rotated daily, `log_days_keep` files kept (the dated files
 * are written by winston-daily-rotate-file; `repack_<config>.log` is a link to today's).
 * Console output goes to stderr so stdout stays clean for data (`--json`).
 */
import { join } from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { LogLevel } from '../config/types.js';

export const levels: Record<LogLevel, number> = { error: 0, warning: 1, info: 2, debug: 3 };

export interface LoggerOptions {
  configName: string;
  level: LogLevel;
  /** Directory for the rotated file; omitted means no file. */
  logDir?: string;
  daysKeep: number;
  console: boolean;
  /** Strings that must never reach a log line (passwords). */
  secrets: string[];
}

export type Logger = winston.Logger;

/** Replaces every known secret, so a password quoted in a server error cannot leak. */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('********');
  return out;
}

function lineFormat(secrets: string[]) {
  return winston.format.printf((info) => {
    const where = [info.connection, info.table].filter((x) => typeof x === 'string' && x !== '');
    const scope = where.length > 0 ? ` [${where.join(' ')}]` : '';
    const message = redact(String(info.message), secrets);
    return `${String(info.timestamp)} ${info.level.toUpperCase()}${scope} ${message}`;
  });
}

export function logFileName(configName: string): string {
  return `repack_${configName}.log`;
}

export function createLogger(opts: LoggerOptions): Logger {
  const format = winston.format.combine(
    winston.format.timestamp({ format: 'YYYY-MM-DD HH:mm:ss.SSS' }),
    lineFormat(opts.secrets),
  );
  const transports: winston.transport[] = [];
  if (opts.logDir !== undefined) {
    transports.push(
      new DailyRotateFile({
        dirname: opts.logDir,
        filename: `repack_${opts.configName}-%DATE%.log`,
        datePattern: 'YYYY-MM-DD',
        maxFiles: `${opts.daysKeep}d`,
        createSymlink: true,
        symlinkName: logFileName(opts.configName),
        auditFile: join(opts.logDir, `.repack_${opts.configName}-audit.json`),
        format,
      }),
    );
  }
  if (opts.console) {
    transports.push(new winston.transports.Console({ stderrLevels: Object.keys(levels), format }));
  }
  return winston.createLogger({
    levels,
    level: opts.level,
    transports,
    // A logger with no transport still must accept calls silently.
    silent: transports.length === 0,
  });
}

/** Flushes file transports before the process exits. */
export async function closeLogger(logger: Logger): Promise<void> {
  await new Promise<void>((resolve) => {
    logger.on('finish', () => resolve());
    logger.end();
    setTimeout(resolve, 2000).unref();
  });
}
