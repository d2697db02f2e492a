/** One line per table outcome: what the terminal, the email and the outcome file say. */
import type { TableOutcome } from '../report/events.js';
import { formatBytes, PREPARED_NEXT } from '../report/log-events.js';

export function summaryLines(outcomes: TableOutcome[]): string[] {
  return outcomes.map((o) => {
    const what =
      o.status === 'done'
        ? `done in ${(o.durationMs / 1000).toFixed(1)} s, ${formatBytes(o.sizeBefore)} -> ${formatBytes(o.sizeAfter)}`
        : o.status === 'prepared'
          ? `prepared in ${(o.durationMs / 1000).toFixed(1)} s: ${PREPARED_NEXT}`
          : `${o.status}: ${o.reason ?? ''}`;
    return `${o.connection} ${o.table}: ${what}`;
  });
}
