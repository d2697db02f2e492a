/**
 * Reads a configuration file into a typed {@link Config}, or throws one {@link ConfigError}
 * listing every problem in it: the user fixes the whole file in one go instead of one
 * mistake per run. Raw TOML never leaves src/config.
 *
 * Empty strings count as "not set" (as in a libpq conninfo), so `password = ""` falls back to
 * ~/.pgpass like an absent password does.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import TOML from '@iarna/toml';
import { parseQualifiedName, type QualifiedName } from '../db/ident.js';
import { ConfigError } from '../errors.js';
import {
  CONNECTION_FIELDS,
  DEFAULTS,
  EMAIL_FIELDS,
  EMAIL_REQUIRED,
  LOGGING_FIELDS,
  NOTIFIER_FIELDS,
  NOTIFIER_SECTIONS,
  TOP_LEVEL_FIELDS,
  TOP_LEVEL_SECTIONS,
} from './keys.js';
import { expandHome, repcloudDir } from './paths.js';
import { readTableOptions } from './table-options.js';
import { isTable, keyPath, readSection, tableAt, type TomlTable } from './section.js';
import type { Config, ConnectionConfig, EmailConfig } from './types.js';

/** Where a fresh `~/.repcloud` keeps the annotated example, named in "file not found". */
export function exampleConfigPath(home: string): string {
  return join(repcloudDir(home), 'config', 'config-example.toml');
}

export function readConfigFile(file: string, name: string, home: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [readProblem(err, home)]);
  }
  return parseConfig(text, file, name, home);
}

function readProblem(err: unknown, home: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') {
    return `file not found: create it, e.g. by copying ${exampleConfigPath(home)}`;
  }
  if (code === 'EACCES') return 'permission denied: make the file readable by this user';
  if (code === 'EISDIR') return 'this is a directory: give the path of a .toml file';
  return `cannot read the file: ${(err as Error).message}`;
}

export function parseConfig(text: string, file: string, name: string, home: string): Config {
  const problems: string[] = [];
  const root = parseToml(text, problems);
  const config = root && buildConfig(root, name, file, home, problems);
  if (!config || problems.length > 0) throw new ConfigError(file, problems);
  return config;
}

/**
 * Only the parser's reason and position are kept: its own message quotes the lines around
 * the error, which may hold a password.
 */
function parseToml(text: string, problems: string[]): TomlTable | undefined {
  try {
    return TOML.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    const { line, col, message } = err as { line?: unknown; col?: unknown; message?: unknown };
    const reason = String(message).split(/ at row \d+, col \d+, pos \d+:\n/)[0]!.split('\n')[0];
    const where =
      typeof line === 'number' && typeof col === 'number'
        ? ` at line ${line + 1}, column ${col + 1}`
        : '';
    problems.push(`invalid TOML${where} (${reason}): fix the TOML syntax`);
    return undefined;
  }
}

function buildConfig(
  root: TomlTable,
  name: string,
  file: string,
  home: string,
  problems: string[],
): Config {
  const top = readSection(root, '', TOP_LEVEL_FIELDS, TOP_LEVEL_SECTIONS, problems);
  return {
    name,
    file,
    pidDir: expandHome(top.pid_dir ?? DEFAULTS.pidDir, home),
    logging: readLogging(tableAt(root.logging, 'logging', problems) ?? {}, home, problems),
    notifier: readNotifier(tableAt(root.notifier, 'notifier', problems) ?? {}, problems),
    connections: readConnections(root.connections, home, problems),
  };
}

function readLogging(table: TomlTable, home: string, problems: string[]): Config['logging'] {
  const v = readSection(table, 'logging', LOGGING_FIELDS, [], problems);
  return {
    logDir: expandHome(v.log_dir ?? DEFAULTS.logDir, home),
    logLevel: v.log_level ?? DEFAULTS.logLevel,
    logDest: v.log_dest ?? DEFAULTS.logDest,
    logDaysKeep: v.log_days_keep ?? DEFAULTS.logDaysKeep,
    logFormat: v.log_format ?? DEFAULTS.logFormat,
  };
}

function readNotifier(table: TomlTable, problems: string[]): Config['notifier'] {
  const v = readSection(table, 'notifier', NOTIFIER_FIELDS, NOTIFIER_SECTIONS, problems);
  const enableEmail = v.enable_email ?? DEFAULTS.enableEmail;
  const emailTable = tableAt(table.email, 'notifier.email', problems);
  if (emailTable === undefined) {
    if (enableEmail && table.email === undefined) {
      problems.push(
        'notifier.email: required when notifier.enable_email is true: ' +
          'add a [notifier.email] section with mailfrom, mailto and smtp_server',
      );
    }
    return { enableEmail };
  }
  const email = readEmail(emailTable, enableEmail, problems);
  return email ? { enableEmail, email } : { enableEmail };
}

/** Undefined when a required key is missing: that is a problem only if email is enabled. */
function readEmail(
  table: TomlTable,
  enabled: boolean,
  problems: string[],
): EmailConfig | undefined {
  const v = readSection(table, 'notifier.email', EMAIL_FIELDS, [], problems);
  if (enabled) {
    for (const key of EMAIL_REQUIRED.filter((k) => isBlank(table[k]))) {
      problems.push(`notifier.email.${key}: required when notifier.enable_email is true`);
    }
  }
  if (!v.mailfrom || !v.mailto?.length || !v.smtp_server) return undefined;
  const smtpSsl = v.smtp_ssl ?? DEFAULTS.smtpSsl;
  return omitUndefined({
    mailfrom: v.mailfrom,
    mailto: v.mailto,
    smtpServer: v.smtp_server,
    smtpPort: v.smtp_port ?? (smtpSsl === 'tls' ? DEFAULTS.smtpPortTls : DEFAULTS.smtpPort),
    smtpSsl,
    smtpUsername: v.smtp_username,
    smtpPassword: v.smtp_password,
  });
}

/** Absent or empty; a present value of the wrong type was already reported as such. */
function isBlank(raw: unknown): boolean {
  return raw === undefined || raw === '' || (Array.isArray(raw) && raw.length === 0);
}

function readConnections(raw: unknown, home: string, problems: string[]): ConnectionConfig[] {
  const table = tableAt(raw, 'connections', problems);
  if (raw === undefined || (table && Object.keys(table).length === 0)) {
    problems.push('no [connections.NAME] section: add one, see config-example.toml');
  }
  const connections: ConnectionConfig[] = [];
  for (const [name, section] of Object.entries(table ?? {})) {
    const path = keyPath('connections', name);
    if (!isTable(section)) tableAt(section, path, problems);
    else connections.push(readConnection(name, section, path, home, problems));
  }
  return connections;
}

function readConnection(
  name: string,
  table: TomlTable,
  path: string,
  home: string,
  problems: string[],
): ConnectionConfig {
  const v = readSection(table, path, CONNECTION_FIELDS, ['table_options'], problems);
  return omitUndefined({
    name,
    host: v.host,
    port: v.port,
    user: v.user,
    password: v.password,
    database: v.database,
    sslmode: v.sslmode,
    sslrootcert: v.sslrootcert === undefined ? undefined : expandHome(v.sslrootcert, home),
    connectTimeoutSeconds: v.connect_timeout,
    schemas: v.schemas ?? [],
    tables: parseTables(v.tables ?? [], keyPath(path, 'tables'), problems),
    indexes: parseTables(v.indexes ?? [], keyPath(path, 'indexes'), problems),
    maxReplayRows: v.max_replay_rows ?? DEFAULTS.maxReplayRows,
    lockTimeoutMs: v.lock_timeout ?? DEFAULTS.lockTimeoutMs,
    checkTimeSeconds: v.check_time ?? DEFAULTS.checkTimeSeconds,
    analyzeTables: v.analyze_tables ?? DEFAULTS.analyzeTables,
    deadlockResolution: v.deadlock_resolution ?? DEFAULTS.deadlockResolution,
    swapAttempts: v.swap_attempts ?? DEFAULTS.swapAttempts,
    catchupTimeoutSeconds: v.catchup_timeout ?? DEFAULTS.catchupTimeoutSeconds,
    parallelSessions: v.parallel_sessions ?? DEFAULTS.parallelSessions,
    copyMode: v.copy_mode ?? DEFAULTS.copyMode,
    chunkTimeSeconds: v.chunk_time ?? DEFAULTS.chunkTimeSeconds,
    sleepRatio: v.sleep_ratio ?? DEFAULTS.sleepRatio,
    maxWalRateMBps: v.max_wal_rate ?? null,
    maxReplicaLagSeconds: v.max_replica_lag ?? null,
    swapDeadlineMs: v.swap_deadline ?? null,
    swapWindow: v.swap_window ?? null,
    tableOptions: nonEmpty(readTableOptions(table.table_options, keyPath(path, 'table_options'), problems)),
    minBloatRatio: v.min_bloat_ratio ?? 0,
    minBloatBytes: v.min_bloat_bytes ?? 0,
  });
}

/** A connection with every key at its default: for callers that build one in code (demo, listings). */
export function defaultConnection(name: string): ConnectionConfig {
  return {
    name,
    schemas: [],
    tables: [],
    indexes: [],
    maxReplayRows: DEFAULTS.maxReplayRows,
    lockTimeoutMs: DEFAULTS.lockTimeoutMs,
    checkTimeSeconds: DEFAULTS.checkTimeSeconds,
    analyzeTables: DEFAULTS.analyzeTables,
    deadlockResolution: DEFAULTS.deadlockResolution,
    swapAttempts: DEFAULTS.swapAttempts,
    catchupTimeoutSeconds: DEFAULTS.catchupTimeoutSeconds,
    parallelSessions: DEFAULTS.parallelSessions,
    copyMode: DEFAULTS.copyMode,
    chunkTimeSeconds: DEFAULTS.chunkTimeSeconds,
    sleepRatio: DEFAULTS.sleepRatio,
    maxWalRateMBps: null,
    maxReplicaLagSeconds: null,
    swapDeadlineMs: null,
    swapWindow: null,
    minBloatRatio: 0,
    minBloatBytes: 0,
  };
}

function parseTables(entries: string[], path: string, problems: string[]): QualifiedName[] {
  const tables: QualifiedName[] = [];
  for (const entry of entries) {
    const parsed = parseQualifiedName(entry);
    if (typeof parsed === 'string') problems.push(`${path}: ${parsed}`);
    else tables.push(parsed);
  }
  return tables;
}

function nonEmpty<T>(list: T[]): T[] | undefined {
  return list.length > 0 ? list : undefined;
}

/** Unset optional values are left out, so a listing of the config shows only what is set. */
function omitUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined)) as T;
}
