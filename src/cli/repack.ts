/** `repack_tables`: every selected table of every selected connection, one after another. */
import { connect } from '../db/connect.js';
import { ExitCode, RpclError } from '../errors.js';
import { checkConnection } from './preflight.js';
import { unmatchedEntries } from '../execute/table-options.js';
import { defaultEngineOptions } from '../execute/context.js';
import { ensureHelperSchema } from '../execute/helper-schema.js';
import { recoverDeadRuns, describeRecovery } from '../execute/recovery.js';
import { cleanupOptionsFor } from '../execute/cleanup.js';
import { describeIndexRecovery, recoverIndexRuns } from '../execute/index-leftovers.js';
import { repackTable } from '../execute/run-table.js';
import { describeMissing, extraSpaceBytes, selectTables } from '../inspect/select.js';
import { displayQualified } from '../db/ident.js';
import type { TableOutcome } from '../report/events.js';
import { countNoun, formatBytes } from '../report/log-events.js';
import { onStopSignals } from './long-run.js';
import { runEvents } from './run-events.js';
import { applyThresholds, thresholdText } from './thresholds.js';
import { thresholdsSet } from '../plan/bloat-threshold.js';
import type { Runtime } from './runtime.js';

/** repack: swap included; prepare: stop before the swap and keep the copies in sync. */
export async function repackTables(
  rt: Runtime,
  mode: 'repack' | 'prepare' = 'repack',
): Promise<{ outcomes: TableOutcome[]; exitCode: number }> {
  const stop = onStopSignals(rt);
  const { emit, outcomes, end, close } = runEvents(rt);
  try {
    for (const conn of rt.connections) {
      if (stop.stopped()) break;
      const log = rt.log.child({ connection: conn.name });
      const client = await connect(conn, { home: rt.home, applicationName: 'rpcl' });
      let selection;
      try {
        await ensureHelperSchema(client, log).catch(async (err) => {
          // The tables' own refusals first (a role that does not own them must hear that, not
          // be sent to grant rights on the helper schema for nothing), then the schema's.
          if (!(err instanceof RpclError) || err.exitCode !== ExitCode.refused) throw err;
          const tables = (await checkConnection(client, conn)).filter((p) => p.about === 'table');
          if (tables.length === 0) throw err;
          throw new RpclError([...tables.map((p) => p.message), err.message].join('\nrpcl: '), ExitCode.refused);
        });
        // Runs that died (even by SIGKILL) are finished or cleaned before anything new starts.
        for (const r of await recoverDeadRuns(client, { ...cleanupOptionsFor(conn), includePrepared: false })) {
          if (r.outcome !== 'live') log.warning(describeRecovery(r));
        }
        // So are the INVALID indexes of a repack_indexes that died: a copy would rebuild them
        // as valid ones. What cannot be dropped now makes its table refused (an INVALID index).
        try {
          for (const r of await recoverIndexRuns(client, cleanupOptionsFor(conn))) log.warning(describeIndexRecovery(r));
        } catch (err) {
          log.warning(`could not remove every leftover of interrupted index rebuilds yet: ${(err as Error).message}`);
        }
        selection = await selectTables(client, conn.schemas, conn.tables, { sample: thresholdsSet(conn) ? true : 'to-order' });
        if (selection.sampleError) log.warning(selection.sampleError);
        // A table_options entry naming no table is refused before any work: with a typo in its
        // name, the table it was meant for would be repacked without its options.
        const unmatched = await unmatchedEntries(client, conn, selection.candidates);
        for (const w of unmatched.unselected) log.warning(w);
        if (unmatched.missing.length > 0) throw new RpclError(unmatched.missing.join('\nrpcl: '), ExitCode.refused);
      } finally {
        await client.end().catch(() => undefined);
      }
      for (const missing of selection.missing) {
        const o: TableOutcome = {
          status: 'refused', table: displayQualified(missing), connection: conn.name, listed: true,
          reason: describeMissing(missing), durationMs: 0,
        };
        end(o, 0);
      }
      const pagesRead = selection.candidates.reduce((a, c) => a + (c.bloat?.pagesRead ?? 0), 0);
      const thresholds = applyThresholds(selection.candidates, conn);
      for (const s of thresholds.skipped) {
        log.info(s.line);
        process.stdout.write(`${conn.name}: ${s.line}\n`);
      }
      for (const n of thresholds.namedBelow) log.info(n.line);
      selection = { ...selection, candidates: thresholds.kept };
      const sampled = selection.candidates.some((c) => c.bloat !== undefined);
      log.info(
        `${countNoun(selection.candidates.length, 'table')} selected, largest estimated bloat first ` +
          `(bloat estimate: ${sampled ? `${countNoun(pagesRead, 'page')} read` : 'not sampled, nothing to order and no threshold'}` +
          `${thresholds.skipped.length > 0 ? `; ${countNoun(thresholds.skipped.length, 'table')} skipped below ${thresholdText(conn)}` : ''})`,
      );
      const extra = selection.candidates.map(extraSpaceBytes);
      if (selection.candidates.length > 0) {
        log.info(
          mode === 'prepare'
            ? `preparing keeps every copy until its swap: about ${formatBytes(extra.reduce((a, b) => a + b, 0))} of extra space in total`
            : `the largest table needs about ${formatBytes(Math.max(...extra))} of extra space while it is repacked`,
        );
      }
      for (const candidate of selection.candidates) {
        if (stop.stopped()) break;
        const place = candidate.partitionOf;
        if (place) {
          emit({
            type: 'note',
            ref: { connection: conn.name, table: displayQualified(candidate), oid: candidate.oid },
            message: `${place.root}: partition ${place.number} of ${place.of}, ${displayQualified(candidate)} ` +
              `(${countNoun(place.of - place.number, 'partition')} after it)`,
          });
        }
        const outcome = await repackTable(
          {
            conn,
            home: rt.home,
            configName: rt.config.name,
            log: rt.log,
            emit,
            engine: {
              ...defaultEngineOptions,
              swapAttempts: conn.swapAttempts,
              catchupTimeoutMs: conn.catchupTimeoutSeconds * 1000,
              parallelSessions: conn.parallelSessions,
            },
            stopRequested: stop.stopped,
            mode,
          },
          candidate,
        );
        end(outcome, candidate.oid);
      }
    }
  } finally {
    close();
    stop.dispose();
  }
  return { outcomes, exitCode: exitCodeOf(outcomes, stop.stopped()) };
}

/** Failed beats refused; refusals count only for tables listed by name. */
export function exitCodeOf(outcomes: TableOutcome[], interrupted: boolean): number {
  if (outcomes.some((o) => o.status === 'failed')) return ExitCode.failed;
  if (interrupted || outcomes.some((o) => o.status === 'stopped')) return ExitCode.interrupted;
  if (outcomes.some((o) => o.status === 'refused' && o.listed)) return ExitCode.refused;
  return ExitCode.ok;
}
