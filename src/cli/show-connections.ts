/** `show_connections`: every connection with every key except the password. */
import { defaultConnection } from '../config/load.js';
import type { ConnectionConfig } from '../config/types.js';
import type { TableOptions } from '../config/table-options.js';
import { displayIdent, displayQualified } from '../db/ident.js';

type Row = Record<string, string | number | boolean | string[] | null>;

/** repcloud's key names; `password` is deliberately absent. */
export function connectionRow(c: ConnectionConfig): Row {
  return {
    name: c.name,
    host: c.host ?? null,
    port: c.port ?? null,
    user: c.user ?? null,
    database: c.database ?? null,
    sslmode: c.sslmode ?? null,
    sslrootcert: c.sslrootcert ?? null,
    connect_timeout: c.connectTimeoutSeconds ?? null,
    schemas: c.schemas,
    tables: c.tables.map(displayQualified),
    ...(c.indexes.length > 0 ? { indexes: c.indexes.map(displayQualified) } : {}),
    max_replay_rows: c.maxReplayRows,
    lock_timeout: `${c.lockTimeoutMs}ms`,
    check_time: c.checkTimeSeconds,
    analyze_tables: c.analyzeTables,
    deadlock_resolution: c.deadlockResolution,
    swap_attempts: c.swapAttempts,
    catchup_timeout: c.catchupTimeoutSeconds,
    parallel_sessions: c.parallelSessions,
    copy_mode: c.copyMode,
    chunk_time: c.chunkTimeSeconds,
    sleep_ratio: c.sleepRatio,
    max_wal_rate: c.maxWalRateMBps,
    max_replica_lag: c.maxReplicaLagSeconds,
    swap_deadline: c.swapDeadlineMs === null ? null : `${c.swapDeadlineMs / 1000}s`,
    swap_window: c.swapWindow?.text ?? null,
    min_bloat_ratio: c.minBloatRatio,
    min_bloat_bytes: c.minBloatBytes,
    ...(c.tableOptions?.length ? { table_options: c.tableOptions.map(tableOptionsText) } : {}),
  };
}

/** One `[connections.NAME.table_options."schema.table"]` section on one line, as it was read. */
export function tableOptionsText(o: TableOptions): string {
  const parts: string[] = [];
  if (o.orderBy !== undefined) {
    const items = o.orderBy.map((i) => `${displayIdent(i.column)}${i.descending ? ' DESC' : ''}${i.nulls ? ` NULLS ${i.nulls.toUpperCase()}` : ''}`);
    parts.push(`order_by [${items.join(', ')}]`);
  }
  if (o.tablespace !== undefined) parts.push(`tablespace ${displayIdent(o.tablespace)}`);
  if (o.moveIndexes) parts.push('move_indexes');
  if (o.storageParameters.length > 0) parts.push(o.storageParameters.map((p) => `${p.name}=${p.value}`).join(' '));
  return `${displayQualified(o.table)}: ${parts.join('; ')}`;
}

export function renderConnectionsJson(conns: ConnectionConfig[]): string {
  return JSON.stringify(conns.map(connectionRow), null, 2);
}

/** An aligned text table; absent keys show as `-` (libpq environment or .pgpass applies). */
export function renderConnectionsTable(conns: ConnectionConfig[]): string {
  const rows = conns.map(connectionRow);
  // Keys set in some connections only (indexes, table_options) are columns when any has them.
  const headers = [...new Set((rows.length > 0 ? rows : [connectionRow(defaultConnection(''))]).flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => headers.map((h) => cellText(r[h] ?? null)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function cellText(v: Row[string]): string {
  if (v === null) return '-';
  if (Array.isArray(v)) return v.length === 0 ? '-' : v.join(',');
  return String(v);
}
