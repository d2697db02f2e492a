/**
 * The winston logger every part of rpcl writes to. File output follows repcloud's layout:
 * `<log_dir>/repack_<config>.log`, rotated daily, `log_days_keep` files kept (the dated files
 * are written by winston-daily-rotate-file; `repack_<config>.log` is a link to today's).
 * Console output goes to stderr so stdout stays clean for data (`--json`).
 *
 * Timestamps are ISO 8601 in local time with the UTC offset (`2026-12-01T10:59:20.423+00:00`).
 * `format: 'text'` writes `<timestamp> <LEVEL> [<connection> <table>] <message>`; `'json'` one
 * JSON object per line: timestamp, level, message, then the metadata the call passed
 * (connection, table, phase, event, oid, ...), for log shippers.
 */
import { join } from 'node:path';
import winston from 'winston';
import DailyRotateFile from 'winston-daily-rotate-file';
import type { LogFormat, LogLevel } from '../config/types.js';

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
  /** text (default) or json: one JSON object per line. */
  format?: LogFormat;
}

/**
 * Metadata for an entry that goes to the log file but not to the console: for a message the
 * caller prints on the terminal itself (the CLI's final `rpcl: <error>`), so that
 * `log_dest = "console"` does not show it twice.
 */
export const FILE_ONLY = { fileOnly: true } as const;

export type Logger = winston.Logger;

/** Replaces every known secret, so a password quoted in a server error cannot leak. */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('********');
  return out;
}

/** ISO 8601 in local time with the UTC offset, to the millisecond: 2026-12-01T10:59:20.423+01:00. */
export function isoTimestamp(d: Date = new Date()): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return (
    `${pad(d.getFullYear(), 4)}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

function textLine(secrets: string[]) {
  return winston.format.printf((info) => {
    const where = [info.connection, info.table].filter((x) => typeof x === 'string' && x !== '');
    const scope = where.length > 0 ? ` [${where.join(' ')}]` : '';
    const message = redact(String(info.message), secrets);
    return `${String(info.timestamp)} ${info.level.toUpperCase()}${scope} ${message}`;
  });
}

/** The fields every JSON line starts with, in this order; other metadata follows. */
const JSON_FIELDS = ['timestamp', 'level', 'message', 'connection', 'table', 'phase', 'event'] as const;
/** winston's own keys and rpcl's routing marks: never written as fields. */
const NOT_FIELDS = new Set<string>([...JSON_FIELDS, 'fileOnly', 'splat']);

function jsonLine(secrets: string[]) {
  return winston.format.printf((info) => {
    const out: Record<string, unknown> = {};
    const add = (key: string, value: unknown) => {
      if (value === undefined || value === null || value === '' || typeof value === 'function') return;
      out[key] = typeof value === 'string' ? redact(value, secrets) : value;
    };
    for (const key of JSON_FIELDS) add(key, key === 'message' ? String(info.message) : info[key]);
    for (const [key, value] of Object.entries(info)) if (!NOT_FIELDS.has(key)) add(key, value);
    return JSON.stringify(out);
  });
}

/** Drops the entries marked {@link FILE_ONLY}. */
const skipFileOnly = winston.format((info) => (info.fileOnly === true ? false : info));

export function logFileName(configName: string): string {
  return `repack_${configName}.log`;
}

export function createLogger(opts: LoggerOptions): Logger {
  // The timestamp is taken once per entry (by the logger), so file and console agree.
  const format = opts.format === 'json' ? jsonLine(opts.secrets) : textLine(opts.secrets);
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
    transports.push(
      new winston.transports.Console({
        stderrLevels: Object.keys(levels),
        format: winston.format.combine(skipFileOnly(), format),
      }),
    );
  }
  return winston.createLogger({
    levels,
    level: opts.level,
    format: winston.format.timestamp({ format: () => isoTimestamp() }),
    transports,
    // A logger with no transport still must accept calls silently.
    silent: transports.length === 0,
  });
}

/** Flushes file transports before the process exits. */
export async function closeLogger(logger: Logger): Promise<void> {
  const files = logger.transports.filter((t) => t instanceof DailyRotateFile);
  await new Promise<void>((resolve) => {
    logger.on('finish', () => resolve());
    logger.end();
    setTimeout(resolve, 2000).unref();
  });
  // The rotating file's own stream is only flushed when the transport is closed: without this
  // the last lines may still be on their way when the caller reads the file or exits.
  await Promise.all(
    files.map(
      (t) =>
        new Promise<void>((resolve) => {
          t.once('finish', () => resolve());
          t.close?.();
          setTimeout(resolve, 2000).unref();
        }),
    ),
  );
}
