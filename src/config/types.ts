/** The validated, typed configuration. Raw TOML never leaves src/config. */

import type { QualifiedName } from '../db/ident.js';
import type { TimeWindow } from './duration.js';
import type { TableOptions } from './table-options.js';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';
export type LogFormat = 'text' | 'json';
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
export type SmtpSsl = 'none' | 'starttls' | 'tls';
export type DeadlockResolution = 'nothing' | 'cancel_query' | 'kill_query';

export interface ConnectionConfig {
  name: string;
  /** Absent values fall back to libpq's environment variables and ~/.pgpass. */
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  sslmode?: SslMode;
  sslrootcert?: string;
  /** Seconds a connection attempt may take (0: no limit); absent: PGCONNECT_TIMEOUT, else 10 s. */
  connectTimeoutSeconds?: number;
  schemas: string[];
  tables: QualifiedName[];
  /** repack_indexes: only these indexes of the selected tables; empty: all of them. */
  indexes: QualifiedName[];
  maxReplayRows: number;
  lockTimeoutMs: number;
  checkTimeSeconds: number;
  analyzeTables: boolean;
  deadlockResolution: DeadlockResolution;
  /** Swap attempts (each bounded by lock_timeout) before a table's run fails. */
  swapAttempts: number;
  /** How long replay may try to catch up before the run gives up. */
  catchupTimeoutSeconds: number;
  /** Sessions that copy rows and build indexes at once (1 is gentlest on the server). */
  parallelSessions: number;
  /**
   * snapshot: one REPEATABLE READ transaction, indexes built afterwards; chunked: key ranges in
   * short transactions into a copy whose indexes already exist; auto: chunked from
   * CHUNKED_FROM_BYTES of table size.
   */
  copyMode: 'auto' | 'snapshot' | 'chunked';
  /** Target duration of one chunk's transaction. */
  chunkTimeSeconds: number;
  /** Pause this many seconds per second of copy or replay work. */
  sleepRatio: number;
  /** Server-wide WAL rate (MB/s) above which rpcl pauses its copy and replay; null: no limit. */
  maxWalRateMBps: number | null;
  /** Replica replay lag (seconds) above which rpcl pauses its copy and replay; null: no limit. */
  maxReplicaLagSeconds: number | null;
  /**
   * After swap_attempts failed, keep trying (replaying between tries) until this many ms after
   * the first attempt; null: stop after swap_attempts. Either way the copy is kept prepared.
   */
  swapDeadlineMs: number | null;
  /** Attempt the swap only inside this daily window of local time; null: any time. */
  swapWindow: TimeWindow | null;
  /** `[connections.NAME.table_options."schema.table"]` sections (absent in configs built in code: none). */
  tableOptions?: TableOptions[];
  /**
   * A table of a schema-wide run is repacked only when the estimated space a repack gives back
   * (heap, TOAST, indexes) is at least minBloatBytes and that share of its size at least
   * minBloatRatio (0 to 1). A table named in `tables` is repacked regardless.
   */
  minBloatRatio: number;
  minBloatBytes: number;
}

export interface EmailConfig {
  mailfrom: string;
  mailto: string[];
  smtpServer: string;
  smtpPort: number;
  smtpSsl: SmtpSsl;
  smtpUsername?: string;
  smtpPassword?: string;
}

export interface Config {
  /** Name the config was asked for by (`default`), used in log and pid file names. */
  name: string;
  file: string;
  pidDir: string;
  logging: {
    logDir: string;
    logLevel: LogLevel;
    logDest: 'file' | 'console';
    logDaysKeep: number;
    /**
     * text: one readable line per entry; json: one JSON object per line, for log shippers.
     * Always set by the config loader; configs built in code (the demo) may leave it out (text).
     */
    logFormat?: LogFormat;
  };
  notifier: {
    enableEmail: boolean;
    email?: EmailConfig;
  };
  /** In file order. */
  connections: ConnectionConfig[];
}
