/** Turns run events into log lines (connection and table travel as log metadata). */
import type { Logger } from './logger.js';
import type { RunEvent } from './events.js';

/** What a prepared table waits for, said wherever its outcome is reported. */
export const PREPARED_NEXT =
  'the copy is kept in sync by capture; `rpcl repack_tables` swaps it without copying again, `rpcl abort_repack` removes it';

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '?';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

/** `1 table`, `2 tables`: a count with its noun in the right number. */
export function countNoun(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/** A rate in words; unknown until the first check_time window (or the first batch) has passed. */
export function formatRate(r: number | null): string {
  return r === null ? 'not measured yet' : `${Math.round(r)} rows/s`;
}

const rate = formatRate;

export function logEvent(log: Logger, e: RunEvent): void {
  const meta = { connection: e.ref.connection, table: e.ref.table, event: e.type, ...(e.type === 'phase' ? { phase: e.phase } : {}) };
  switch (e.type) {
    case 'phase':
      log.info(`phase ${e.phase}${e.detail ? `: ${e.detail}` : ''}`, meta);
      return;
    case 'copy-progress': {
      const pct = e.rowsEstimate > 0 ? ` (${Math.min(100, Math.round((100 * e.rowsCopied) / e.rowsEstimate))}%)` : '';
      log.info(`copied ${e.rowsCopied} of about ${e.rowsEstimate} rows${pct}`, meta);
      return;
    }
    case 'index-progress':
      log.info(`built ${e.name} (${e.built}/${e.total})`, meta);
      return;
    case 'replay-progress': {
      const s = e.estimate;
      const predicted = s.predictedSwapMs === null ? 'not known yet' : `${Math.round(s.predictedSwapMs)} ms`;
      log.info(
        `replay: backlog ${s.backlog}, change rate ${rate(s.changeRate)}, replay rate ${rate(s.replayRate)}, ` +
          `predicted swap ${predicted}, elapsed ${Math.round(e.elapsedMs / 1000)} s`,
        meta,
      );
      return;
    }
    case 'replay-behind':
      log.warning(
        `replay is not keeping up: changes arrive at ${rate(e.estimate.changeRate)}, replay drains ${rate(e.estimate.replayRate)}, ` +
          `backlog ${e.estimate.backlog} (${e.windows} check windows in a row)`,
        meta,
      );
      return;
    case 'swap-attempt':
      if (e.ok) log.info(`swap attempt ${e.attempt}/${e.of} succeeded: lock held ${e.holdMs?.toFixed(0)} ms`, meta);
      else log.warning(`swap attempt ${e.attempt}/${e.of} failed: ${e.message ?? ''}`, meta);
      return;
    case 'warning':
      log.warning(e.message, meta);
      return;
    case 'note':
      log.info(e.message, meta);
      return;
    case 'throttle':
      log.info(e.reason === null ? 'no longer throttled: full speed' : `throttled by ${e.reason}`, meta);
      return;
    case 'table-end': {
      const o = e.outcome;
      if (o.index !== undefined && o.status === 'done') {
        log.info(
          `index ${o.index} rebuilt in ${(o.durationMs / 1000).toFixed(1)} s: ${formatBytes(o.sizeBefore)} -> ${formatBytes(o.sizeAfter)}`,
          meta,
        );
      } else if (o.status === 'skipped') {
        log.info(`${o.index === undefined ? '' : `index ${o.index} `}skipped: ${o.reason ?? ''}`, meta);
      } else if (o.index !== undefined && o.status !== 'prepared') {
        const line = `index ${o.index} ${o.status}: ${o.reason ?? ''}`;
        if (o.status === 'failed') log.error(line, meta);
        else log.warning(line, meta);
      } else if (o.status === 'done') {
        log.info(
          `repacked in ${(o.durationMs / 1000).toFixed(1)} s: ${formatBytes(o.sizeBefore)} -> ${formatBytes(o.sizeAfter)}`,
          meta,
        );
      } else if (o.status === 'prepared') {
        log.info(`prepared in ${(o.durationMs / 1000).toFixed(1)} s: ${PREPARED_NEXT}`, meta);
      } else if (o.status === 'refused') {
        log.warning(`refused: ${o.reason ?? ''}`, meta);
      } else if (o.status === 'stopped') {
        // A stop the user asked for is not a failure: alerting on ERROR must not fire.
        log.warning(`stopped: ${o.reason ?? ''}`, meta);
      } else {
        log.error(`failed: ${o.reason ?? ''}`, meta);
      }
    }
  }
}
