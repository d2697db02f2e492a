/**
 * `repack_indexes`: rebuilds the selected tables' indexes online, one after another, with
 * REINDEX INDEX CONCURRENTLY (execute/reindex.ts). The same table selection as repack_tables,
 * narrowed by the connection's `indexes` or by `--index` (which replaces it for one run).
 */
import type pg from 'pg';
import { connect } from '../db/connect.js';
import { displayQualified, parseQualifiedName, type QualifiedName } from '../db/ident.js';
import { ExitCode, RpclError, UsageError } from '../errors.js';
import { ensureHelperSchema } from '../execute/helper-schema.js';
import { cleanupOptionsFor } from '../execute/cleanup.js';
import { describeIndexRecovery, recoverIndexRuns } from '../execute/index-leftovers.js';
import { rebuildIndex } from '../execute/reindex.js';
import { helperSchemaState } from '../inspect/helper-schema.js';
import { indexesOfTables, resolveIndexNames, type IndexFacts } from '../inspect/indexes.js';
import { describeMissing, selectTables } from '../inspect/select.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { estimateIndexBloat } from '../inspect/bloat.js';
import { chooseIndexes, displayIndex, reindexConcurrently, refusalCounts, unknownIndexNames, type IndexChoice } from '../plan/reindex.js';
import type { ConnectionConfig } from '../config/types.js';
import type { TableOutcome } from '../report/events.js';
import { formatBytes } from '../report/log-events.js';
import { onStopSignals } from './long-run.js';
import { runEvents } from './run-events.js';
import { exitCodeOf } from './repack.js';
import type { Problem } from './preflight.js';
import type { Runtime } from './runtime.js';

/** `--index` values, parsed; null when none was given. */
export function parseIndexOption(values: unknown): QualifiedName[] | null {
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  if (list.length === 0) return null;
  return list.map((v) => {
    const parsed = parseQualifiedName(String(v));
    if (typeof parsed === 'string') throw new UsageError(`--index ${String(v)}: ${parsed} (give schema.index)`);
    return parsed;
  });
}

interface Selected {
  choice: IndexChoice;
  /** Listed tables that do not exist. */
  missing: QualifiedName[];
  /** Tables listed by name in `tables`: their refusals count against the exit code. */
  listedTables: Set<number>;
  named: boolean;
}

/** The connection's indexes for this run; names that are not indexes of the selected tables are an error. */
async function selectIndexes(client: pg.Client, conn: ConnectionConfig, names: QualifiedName[]): Promise<Selected> {
  const selection = await selectTables(client, conn.schemas, conn.tables);
  const indexes = await indexesOfTables(client, selection.candidates.map((c) => c.oid), HELPER_SCHEMA);
  let named: Set<number> | null = null;
  if (names.length > 0) {
    const resolved = await resolveIndexNames(client, names);
    const problems = unknownIndexNames(resolved, new Set(indexes.map((i) => i.oid)));
    if (problems.length > 0) {
      throw new RpclError(
        `${conn.name}: ${problems.length === 1 ? problems[0] : `${problems.length} problems with the named indexes:\n  - ${problems.join('\n  - ')}`}. ` +
          'Nothing was done',
        ExitCode.refused,
      );
    }
    named = new Set(resolved.flatMap((r) => ('oids' in r ? r.oids : [])));
  }
  // The same thresholds as repack_tables, per index (0 = none); the estimate also orders the
  // rebuilds, largest gain first. Named indexes are rebuilt whatever their figures.
  const thresholds = {
    minRatio: conn.minBloatRatio > 0 ? conn.minBloatRatio : null,
    minBytes: conn.minBloatBytes > 0 ? conn.minBloatBytes : null,
  };
  const estimates = await estimateIndexBloat(client, indexes.map((i) => i.oid));
  return {
    choice: chooseIndexes(indexes, { named, estimates, thresholds }),
    missing: selection.missing,
    listedTables: new Set(selection.candidates.filter((c) => c.listed).map((c) => c.oid)),
    named: named !== null,
  };
}

export async function repackIndexes(
  rt: Runtime,
  opts: { names: QualifiedName[] | null },
): Promise<{ outcomes: TableOutcome[]; exitCode: number }> {
  const stop = onStopSignals(rt);
  const { emit, outcomes, end, close } = runEvents(rt);
  try {
    for (const conn of rt.connections) {
      if (stop.stopped()) break;
      const log = rt.log.child({ connection: conn.name });
      const client = await connect(conn, { home: rt.home, applicationName: 'rpcl' });
      let selected: Selected;
      try {
        // Bad names first: nothing is touched, not even a dead run's leftovers, before the input is right.
        selected = await selectIndexes(client, conn, opts.names ?? conn.indexes);
        await ensureHelperSchema(client, log);
        try {
          for (const r of await recoverIndexRuns(client, { lockTimeoutMs: conn.lockTimeoutMs, attempts: cleanupOptionsFor(conn).attempts })) {
            log.warning(describeIndexRecovery(r));
          }
        } catch (err) {
          // A busy table's leftovers are tried again before that table's own rebuilds.
          log.warning(`could not remove every leftover of interrupted rebuilds yet: ${(err as Error).message}`);
        }
      } finally {
        await client.end().catch(() => undefined);
      }
      for (const missing of selected.missing) {
        end({ status: 'refused', table: displayQualified(missing), connection: conn.name, listed: true, reason: describeMissing(missing), durationMs: 0 }, 0);
      }
      const listed = (f: IndexFacts) => selected.named || selected.listedTables.has(f.tableOid);
      const table = (f: IndexFacts) => displayQualified({ schema: f.tableSchema, name: f.tableName });
      for (const r of selected.choice.refused) {
        const counts = refusalCounts(r.index, selected.named, selected.listedTables.has(r.index.tableOid));
        end({ status: 'refused', table: table(r.index), index: displayIndex(r.index), connection: conn.name, listed: counts, reason: r.reason, durationMs: 0 }, r.index.tableOid);
      }
      for (const s of selected.choice.skipped) {
        end({ status: 'skipped', table: table(s.index), index: displayIndex(s.index), connection: conn.name, listed: false, reason: s.reason, durationMs: 0 }, s.index.tableOid);
      }
      const chosen = selected.choice.chosen;
      log.info(`${chosen.length} ${chosen.length === 1 ? 'index' : 'indexes'} to rebuild, ${formatBytes(chosen.reduce((a, i) => a + i.bytes, 0))} in total`);
      for (const index of chosen) {
        if (stop.stopped()) break;
        const o = await rebuildIndex(
          { conn, home: rt.home, configName: rt.config.name, log: rt.log, emit, stopRequested: stop.stopped },
          index,
          listed(index),
        );
        end(o, index.tableOid);
      }
    }
  } finally {
    close();
    stop.dispose();
  }
  return { outcomes, exitCode: exitCodeOf(outcomes, stop.stopped()) };
}

/** `repack_indexes --dry-run`: the indexes, the refusals and the statements; nothing is changed. */
export async function repackIndexesDryRun(rt: Runtime, opts: { names: QualifiedName[] | null }): Promise<number> {
  let code: number = ExitCode.ok;
  for (const conn of rt.connections) {
    const client = await connect(conn, { home: rt.home, applicationName: 'rpcl dry-run' });
    try {
      const selected = await selectIndexes(client, conn, opts.names ?? conn.indexes);
      const out: string[] = [`${conn.name}: repack_indexes would (dry run, nothing is changed):`];
      if ((await helperSchemaState(client)).kind === 'absent') out.push(`  install the helper schema ${HELPER_SCHEMA}`);
      for (const m of selected.missing) {
        out.push(`  refuse ${displayQualified(m)}: ${describeMissing(m)}`);
        code = ExitCode.refused;
      }
      for (const r of selected.choice.refused) {
        out.push(`  refuse index ${displayIndex(r.index)} (${formatBytes(r.index.bytes)}): ${r.reason}`);
        if (refusalCounts(r.index, selected.named, selected.listedTables.has(r.index.tableOid))) code = ExitCode.refused;
      }
      for (const s of selected.choice.skipped) out.push(`  skip index ${displayIndex(s.index)}: ${s.reason}`);
      for (const i of selected.choice.chosen) {
        const step = reindexConcurrently(i);
        out.push(
          `  rebuild index ${displayIndex(i)} on ${displayQualified({ schema: i.tableSchema, name: i.tableName })} (${formatBytes(i.bytes)}):`,
          `    ${step.sql};`,
          `    -- SHARE UPDATE EXCLUSIVE on the table and the index (reads and writes go on); every wait bounded by ` +
            `lock_timeout (${conn.lockTimeoutMs} ms), up to ${conn.swapAttempts} attempts; leftovers of a failed attempt dropped with DROP INDEX CONCURRENTLY`,
        );
      }
      if (selected.choice.chosen.length === 0) out.push('  rebuild no index');
      process.stdout.write(`${out.join('\n')}\n`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return code;
}

/** Before detaching: names that are not indexes of the selected tables, said where the user sees them. */
export async function indexNameProblems(rt: Runtime, names: QualifiedName[] | null): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const conn of rt.connections) {
    const client = await connect(conn, { home: rt.home, applicationName: 'rpcl check' });
    try {
      await selectIndexes(client, conn, names ?? conn.indexes);
    } catch (err) {
      if (!(err instanceof RpclError)) throw err;
      problems.push({ about: 'table', message: err.message, exitCode: err.exitCode });
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return problems;
}
