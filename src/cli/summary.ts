/** One line per table outcome: what the terminal, the email and the outcome file say. */
import type { TableOutcome } from '../report/events.js';
import { formatBytes, PREPARED_NEXT } from '../report/log-events.js';

export function summaryLines(outcomes: TableOutcome[]): string[] {
  return outcomes.map((o) => {
    const what =
      o.status === 'done'
        ? `done in ${(o.durationMs / 1000).toFixed(1)} s, ${formatBytes(o.sizeBefore)} -> ${formatBytes(o.sizeAfter)}${o.reason ? `; ${o.reason}` : ''}`
        : o.status === 'prepared'
          ? `prepared in ${(o.durationMs / 1000).toFixed(1)} s: ${PREPARED_NEXT}`
          : `${o.status}: ${o.reason ?? ''}`;
    return `${o.connection} ${subjectOf(o)}: ${what}`;
  });
}

/** What an outcome is about: the table, or for repack_indexes the index and its table. */
export function subjectOf(o: Pick<TableOutcome, 'table' | 'index'>): string {
  return o.index === undefined ? o.table : `index ${o.index} (table ${o.table})`;
}
