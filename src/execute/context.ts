/** What every phase of one table's run shares. */
import type pg from 'pg';
import type { ConnectionConfig } from '../config/types.js';
import type { TableFacts } from '../inspect/facts.js';
import type { Emit, TableRef } from '../report/events.js';
import type { Logger } from '../report/logger.js';
import type { EffectiveOptions } from '../plan/table-options.js';

export interface EngineOptions {
  /** Swap attempts before the table's run fails. */
  swapAttempts: number;
  /** Longest predicted catch-up under the swap lock for an attempt to start. */
  swapBudgetMs: number;
  /** Give up when no swap could be attempted for this long (replay cannot keep up). */
  catchupTimeoutMs: number;
  /** Heap pages per copy chunk (PostgreSQL 14+). */
  copyChunkPages: number;
  /** Sessions that copy rows and build indexes at the same time (PostgreSQL 14+ for the copy). */
  parallelSessions: number;
}

export const defaultEngineOptions: EngineOptions = {
  swapAttempts: 5,
  swapBudgetMs: 100,
  catchupTimeoutMs: 60 * 60 * 1000,
  copyChunkPages: 16384,
  parallelSessions: 2,
};

export interface TableRun {
  conn: ConnectionConfig;
  facts: TableFacts;
  ref: TableRef;
  /** Quoted `schema.table`. */
  table: string;
  /** Runs copy, replay and swap. */
  work: pg.Client;
  workPid: number;
  /** Holds the advisory lock, writes the state row, watches for blockers. */
  control: pg.Client;
  serverVersion: number;
  opts: EngineOptions;
  log: Logger;
  emit: Emit;
  home: string;
  /** This run's row in rpcl.runs. */
  runId: number;
  /** Backends running this run's long statements: cancelled when a stop is requested. */
  busyPids: number[];
  cancelled: boolean;
  /**
   * The work committed so far can be continued by the next run (a chunked copy, once its
   * progress row exists): a stop or a lost connection keeps it instead of removing it.
   */
  keepsWork: boolean;
  /** Set when the user asked the run to stop (signal or stop command). */
  stopRequested: () => boolean;
  /** table_options in effect (order only when the copy applies it); absent: none. */
  options?: EffectiveOptions;
}

/** The table's definition or storage changed during the run: the run ends, cleanly. */
export class DefinitionChangedError extends Error {
  constructor(what: string) {
    super(
      `the table's ${what} changed during the run (ALTER TABLE, VACUUM FULL, CLUSTER or another tool?): ` +
        'the run was ended before the swap and its work removed; run rpcl again when the change is done',
    );
  }
}

/** What kept work waits for, said wherever a run that kept it is reported. */
export const KEPT_NEXT =
  'the copy made so far is kept and capture stays on: `rpcl repack_tables` continues from where it stopped, `rpcl abort_repack` removes it';

/** What a copy kept prepared after a blocked swap waits for. */
export const BLOCKED_NEXT =
  'The original table is unchanged; the copy is kept prepared and in sync by capture: `rpcl repack_tables` swaps it later without copying again, `rpcl abort_repack` removes it';

/** The swap never got its locks within the budget the user set: the copy is kept prepared. */
export class SwapBlockedError extends Error {}

export class StopRequestedError extends Error {
  constructor() {
    super('stopped on request before the swap; the original table is unchanged');
  }
}
