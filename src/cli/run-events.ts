/**
 * The events of a long command (repack_tables, prepare_repack, repack_indexes) go to the log
 * and, on a terminal, to the progress bars; each outcome is kept for the summary, the exit
 * code and the email, and announced as a table-end event.
 */
import type { Emit, TableOutcome } from '../report/events.js';
import { logEvent } from '../report/log-events.js';
import { terminalProgress } from '../report/progress.js';
import type { Runtime } from './runtime.js';

export interface RunEvents {
  emit: Emit;
  outcomes: TableOutcome[];
  /** Records an outcome; `oid` is its table's (0 when the table does not exist). */
  end(outcome: TableOutcome, oid: number): void;
  /** Stops the progress bars. */
  close(): void;
}

export function runEvents(rt: Runtime): RunEvents {
  const outcomes: TableOutcome[] = [];
  // Bars on a terminal, unless the log itself is printed there (--debug, log_dest = "console").
  const progress = process.stderr.isTTY && !rt.logsToConsole ? terminalProgress() : undefined;
  const emit: Emit = (e) => {
    logEvent(rt.log, e);
    progress?.handle(e);
  };
  return {
    emit,
    outcomes,
    end(outcome, oid) {
      outcomes.push(outcome);
      emit({ type: 'table-end', ref: { connection: outcome.connection, table: outcome.table, oid }, outcome });
    },
    close: () => progress?.stop(),
  };
}
