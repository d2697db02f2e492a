/**
 * Lifecycle events of a run. The log, the state table (for `status`), progress display and the
 * run report all consume these; the executor only emits them.
 */
import type { Estimate } from '../execute/estimator.js';

export type Phase =
  | 'starting'
  | 'capture'
  | 'copy'
  | 'index'
  | 'replay'
  | 'swap'
  | 'cleanup'
  | 'prepared'
  | 'done'
  | 'stopped'
  | 'failed';

export interface TableRef {
  connection: string;
  table: string;
  oid: number;
}

export type RunEvent =
  | { type: 'phase'; ref: TableRef; phase: Phase; detail?: string }
  | { type: 'copy-progress'; ref: TableRef; rowsCopied: number; rowsEstimate: number }
  | { type: 'index-progress'; ref: TableRef; built: number; total: number; name: string }
  | { type: 'replay-progress'; ref: TableRef; estimate: Estimate; elapsedMs: number }
  | { type: 'replay-behind'; ref: TableRef; estimate: Estimate; windows: number }
  | { type: 'swap-attempt'; ref: TableRef; attempt: number; of: number; ok: boolean; holdMs?: number; message?: string }
  | { type: 'warning'; ref: TableRef; message: string }
  /** Something worth a line on the terminal too, such as which leaf of a partitioned table comes next. */
  | { type: 'note'; ref: TableRef; message: string }
  /** The run is held back by a limit (reason), or goes on at full speed again (null). */
  | { type: 'throttle'; ref: TableRef; reason: string | null }
  | { type: 'table-end'; ref: TableRef; outcome: TableOutcome };

export interface TableOutcome {
  /**
   * prepared: copy in sync, swap left for a later repack_tables; stopped: ended on request,
   * cleaned; skipped: not worth it by the connection's thresholds (the reason has the figures).
   */
  status: 'done' | 'prepared' | 'refused' | 'failed' | 'stopped' | 'skipped';
  table: string;
  /** repack_indexes: the index this outcome is about (`table` is its table). */
  index?: string;
  connection: string;
  /** Listed by name in the config: a refusal counts against the exit code. */
  listed: boolean;
  reason?: string;
  sizeBefore?: number;
  sizeAfter?: number;
  durationMs: number;
  swapHoldMs?: number;
}

export type Emit = (event: RunEvent) => void;
