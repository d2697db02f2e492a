/**
 * Progress on a terminal: bars for the copy and the index builds, backlog and time left while
 * replaying, a line per swap attempt. Used only when standard error is a terminal and the log
 * is not already printed there; otherwise the log's plain progress lines are all there is.
 */
import cliProgress from 'cli-progress';
import type { RunEvent } from './events.js';

export interface ProgressDisplay {
  handle(e: RunEvent): void;
  stop(): void;
}

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  let bar: cliProgress.SingleBar | undefined;
  let barKind = '';
  /** Why the run is held back, shown after the bar (the ETA counts the waits: it is wall time). */
  let note = '';
  const finishBar = () => {
    bar?.stop();
    bar = undefined;
    barKind = '';
  };
  const line = (text: string) => {
    finishBar();
    stream.write(`${text}\n`);
  };
  /** The copy bar's last count: the row estimate (reltuples) is only a guess, the count is not. */
  let copied = 0;
  /**
   * The copy is over: its bar ends at 100%, the rows copied being the total (the estimate
   * exceeds them on a table whose statistics predate its deletes, and would leave it at 99%).
   */
  const completeCopyBar = (table: string) => {
    if (bar === undefined || barKind !== `copy:${table}`) return;
    bar.setTotal(Math.max(1, copied));
    bar.update(copied);
    finishBar();
  };
  const ensureBar = (kind: string, table: string, total: number, unit: string) => {
    if (barKind === `${kind}:${table}`) return;
    finishBar();
    bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${table} ${kind.padEnd(7)} |{bar}| {percentage}% {value}/{total} ${unit} eta {eta_formatted}{note}`,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(1, total), 0, { note });
    barKind = `${kind}:${table}`;
  };
  return {
    handle(e) {
      switch (e.type) {
        case 'phase':
          // The phases that follow a finished copy: indexes (snapshot copy), replay (chunked copy).
          if (e.phase === 'index' || e.phase === 'replay') completeCopyBar(e.ref.table);
          return;
        case 'copy-progress':
          ensureBar('copy', e.ref.table, e.rowsEstimate, 'rows');
          copied = e.rowsCopied;
          bar?.setTotal(Math.max(e.rowsEstimate, e.rowsCopied, 1));
          bar?.update(e.rowsCopied);
          return;
        case 'index-progress':
          ensureBar('indexes', e.ref.table, e.total, 'built');
          bar?.update(e.built);
          return;
        case 'replay-progress': {
          const s = e.estimate;
          const rate = s.replayRate !== null && s.changeRate !== null ? s.replayRate - s.changeRate : null;
          const eta = rate !== null && rate > 0 ? `, about ${Math.ceil(s.backlog / rate)} s to catch up` : '';
          line(`${e.ref.table} replay: backlog ${s.backlog}${eta}`);
          return;
        }
        case 'throttle':
          note = e.reason === null ? '' : ` (throttled: ${e.reason.split(':')[0]})`;
          bar?.update({ note });
          if (e.reason !== null && bar === undefined) line(`${e.ref.table} throttled by ${e.reason}`);
          return;
        case 'note':
          line(e.message);
          return;
        case 'swap-attempt':
          line(`${e.ref.table} swap attempt ${e.attempt}/${e.of}: ${e.ok ? `done, lock held ${Math.round(e.holdMs ?? 0)} ms` : `failed (${e.message ?? ''})`}`);
          return;
        case 'table-end':
          line(`${e.outcome.index === undefined ? e.ref.table : `index ${e.outcome.index}`}: ${e.outcome.status}${e.outcome.reason ? `: ${e.outcome.reason}` : ''}`);
          return;
        default:
      }
    },
    stop: finishBar,
  };
}
