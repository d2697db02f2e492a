/**
 * Every key a configuration file may hold, section by section, with how its value is read
 * and its default. Key names are repcloud's, so existing repcloud files keep working.
 */

import type { SmtpSsl } from './types.js';
import {
  boolean,
  booleanOf,
  fail,
  integer,
  numberAtLeast,
  numberBetween,
  oneOf,
  stringList,
  text,
  type Coercer,
  ok,
} from './coerce.js';
import { lockTimeout, longDuration, timeWindow } from './duration.js';
import { bloatRatio, byteSize } from './bloat-threshold.js';
import type { Fields } from './section.js';

const port = integer(1, 65535);

export const DEFAULTS = {
  pidDir: '~/.repcloud/pid',
  logDir: '~/.repcloud/logs',
  logLevel: 'info',
  logDest: 'file',
  logDaysKeep: 10,
  logFormat: 'text',
  enableEmail: false,
  smtpPort: 587,
  /** Implicit TLS listens on its own port; 587 there would never answer a TLS hello. */
  smtpPortTls: 465,
  smtpSsl: 'starttls',
  maxReplayRows: 10_000,
  lockTimeoutMs: 3000,
  checkTimeSeconds: 10,
  analyzeTables: true,
  deadlockResolution: 'nothing',
  swapAttempts: 5,
  catchupTimeoutSeconds: 3600,
  parallelSessions: 2,
  // Not auto yet: a chunked copy's indexes are filled row by row and come out far less dense
  // (46% larger at 10M rows in the bench); chunked is for those who need short transactions.
  copyMode: 'snapshot',
  chunkTimeSeconds: 0.5,
  sleepRatio: 0,
} as const;

export const TOP_LEVEL_FIELDS = {
  pid_dir: { read: text },
} satisfies Fields;
export const TOP_LEVEL_SECTIONS = ['logging', 'notifier', 'connections'] as const;

export const LOGGING_FIELDS = {
  log_dir: { read: text },
  log_level: { read: oneOf(['debug', 'info', 'warning', 'error'], { warn: 'warning' }) },
  log_dest: { read: oneOf(['file', 'console']) },
  log_days_keep: { read: integer(1) },
  log_format: { read: oneOf(['text', 'json']) },
} satisfies Fields;

export const NOTIFIER_FIELDS = {
  enable_email: { read: boolean },
} satisfies Fields;
export const NOTIFIER_SECTIONS = ['email'] as const;

const smtpSslWords = oneOf(['none', 'starttls', 'tls'], { ssl: 'tls', implicit: 'tls' });

/** Also a boolean, as repcloud's users wrote it: on means STARTTLS, off means plain text. */
const smtpSsl: Coercer<SmtpSsl> = (raw) => {
  const words = smtpSslWords(raw);
  if (words.ok) return words;
  const flag = booleanOf(raw);
  return flag === undefined ? fail(words.expected) : ok(flag ? 'starttls' : 'none');
};

export const EMAIL_FIELDS = {
  mailfrom: { read: text },
  mailto: { read: stringList('an address or a list of addresses', true) },
  smtp_server: { read: text },
  smtp_port: { read: port },
  smtp_ssl: { read: smtpSsl },
  smtp_username: { read: text },
  smtp_password: { read: text, secret: true },
} satisfies Fields;

/** Required when `enable_email` is on: without them no message can be sent. */
export const EMAIL_REQUIRED = ['mailfrom', 'mailto', 'smtp_server'] as const;

export const CONNECTION_FIELDS = {
  host: { read: text },
  port: { read: port },
  user: { read: text },
  password: { read: text, secret: true },
  database: { read: text },
  sslmode: {
    read: oneOf(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']),
  },
  sslrootcert: { read: text },
  // libpq's connect_timeout: seconds a connection attempt may take (0: no limit); absent:
  // PGCONNECT_TIMEOUT, else 10 s.
  connect_timeout: { read: numberAtLeast(0, 'seconds') },
  schemas: { read: stringList('a list of schema names') },
  tables: { read: stringList('a list of "schema.table" names') },
  // repack_indexes: only these indexes of the selected tables ("schema.index"); empty: all.
  indexes: { read: stringList('a list of "schema.index" names') },
  max_replay_rows: { read: integer(1) },
  lock_timeout: { read: lockTimeout },
  check_time: { read: numberAtLeast(1, 'seconds') },
  analyze_tables: { read: boolean },
  deadlock_resolution: { read: oneOf(['nothing', 'cancel_query', 'kill_query']) },
  // rpcl's own keys (repcloud retried forever and waited forever).
  swap_attempts: { read: integer(1, 100) },
  catchup_timeout: { read: numberAtLeast(1, 'seconds') },
  parallel_sessions: { read: integer(1, 8) },
  // Big tables (issue 15): how the copy is made and how fast.
  copy_mode: { read: oneOf(['auto', 'snapshot', 'chunked']) },
  chunk_time: { read: numberBetween(0.05, 4, 'seconds') },
  sleep_ratio: { read: numberBetween(0, 100, 'seconds of pause per second of work') },
  max_wal_rate: { read: numberAtLeast(0.1, 'MB/s') },
  max_replica_lag: { read: numberAtLeast(0.1, 'seconds') },
  // When the swap cannot get its lock: keep trying until this long after the first attempt,
  // and/or only within this daily window; then the copy is kept prepared.
  swap_deadline: { read: longDuration },
  swap_window: { read: timeWindow },
  // Which tables of a schema-wide run are worth it (issue 13): both must hold; 0 = every table.
  min_bloat_ratio: { read: bloatRatio },
  min_bloat_bytes: { read: byteSize },
} satisfies Fields;
