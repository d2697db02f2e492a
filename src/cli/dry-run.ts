/**
 * `--dry-run`: the tables in order, the refusals with their reasons, then per table a summary
 * (sizes, bloat, space, copy mode, locks with their bounds, phases: see dry-run-summary.ts) and
 * every SQL statement a run would execute with the locks it takes and the timeouts it runs under. Everything is read
 * in one READ ONLY transaction: nothing can be changed.
 */
import type pg from 'pg';
import type { ConnectionConfig } from '../config/types.js';
import { connect } from '../db/connect.js';
import { displayQualified, quoteQualified } from '../db/ident.js';
import { ExitCode } from '../errors.js';
import { cleanupOptionsFor } from '../execute/cleanup.js';
import { defaultEngineOptions } from '../execute/context.js';
import { swapStatementTimeoutMs } from '../execute/swap.js';
import { helperSchemaState } from '../inspect/helper-schema.js';
import {
  liveForeignKeys, livePolicies, livePublications, liveMatviews, liveRules, liveStatistics, liveTriggers, liveViews,
} from '../inspect/live.js';
import { describeMissing, extraSpaceBytes, selectTables } from '../inspect/select.js';
import { inspectTable } from '../inspect/table.js';
import type { TableFacts } from '../inspect/facts.js';
import { createCaptureFunction, createCaptureTriggers, createLogTable, tableRef } from '../plan/capture.js';
import { attachConstraint, buildIndex, copyRows, createCopyTable, indexPlan, setDefaultTablespace } from '../plan/copy.js';
import { tableOptionsFor, unmatchedEntries, type TableOptionsInEffect } from '../execute/table-options.js';
import { describeOptions } from '../plan/table-options.js';
import { checkStorageOf } from '../inspect/table-options.js';
import { attachProofSteps } from '../plan/partition.js';
import type { PartitionFact } from '../inspect/facts.js';
import { copyChunk, createProgressTable, takeChunkLogBatch } from '../plan/chunked-copy.js';
import { CHUNKED_FROM_BYTES } from '../plan/copy-mode.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { refusalReason } from '../plan/refusals.js';
import { readCircumstances } from '../inspect/circumstances.js';
import { createBatchTable, emptyCopy, replayBatch } from '../plan/replay.js';
import type { Step } from '../plan/step.js';
import { dropOldTable, dropWorkObjects, swapLocks, swapSteps, validateForeignKey } from '../plan/swap.js';
import { formatBytes } from '../report/log-events.js';
import { type PhaseKey, type PlannedPhase, tableSummary } from './dry-run-summary.js';
import type { Runtime } from './runtime.js';
import { applyThresholds, figuresOf, thresholdText } from './thresholds.js';
import { figuresText } from '../plan/bloat-threshold.js';

function render(step: Step, budget: string): string {
  const locks = step.locks?.map((l) => `${l.level} on ${l.table}`).join(', ');
  const head = `  -- ${step.description}${locks ? ` [locks ${locks}; ${budget}]` : ''}`;
  return `${head}\n${step.sql.split('\n').map((l) => `  ${l}`).join('\n')};`;
}

/** The limits that hold the chunked copy and the replay back, in words. */
export function throttleSummary(conn: ConnectionConfig): string {
  const limits = [
    conn.maxWalRateMBps === null ? null : `max_wal_rate ${conn.maxWalRateMBps} MB/s`,
    conn.maxReplicaLagSeconds === null ? null : `max_replica_lag ${conn.maxReplicaLagSeconds} s`,
    conn.sleepRatio > 0 ? `sleep_ratio ${conn.sleepRatio}` : null,
  ].filter((l) => l !== null);
  return limits.length === 0 ? 'no throttle set, pause_repack pauses' : `${limits.join(', ')}; pause_repack pauses`;
}

async function planFor(
  client: pg.Client, facts: TableFacts, conn: ConnectionConfig, version: number, options: TableOptionsInEffect,
): Promise<PlannedPhase[]> {
  const eff = options.effective;
  const lockBudget = `lock_timeout ${conn.lockTimeoutMs} ms, up to ${conn.swapAttempts} attempts with backoff`;
  const swapBudget =
    `all the swap's lock waits together within lock_timeout ${conn.lockTimeoutMs} ms, once one is held, the rest within 80% of deadlock_timeout of the first request; ` +
    `statement_timeout ${swapStatementTimeoutMs(conn.lockTimeoutMs)} ms, up to ${conn.swapAttempts} attempts`;
  const afterBudget = `lock_timeout ${conn.lockTimeoutMs} ms, up to ${cleanupOptionsFor(conn).attempts} tries`;
  const out: PlannedPhase[] = [];
  const phase = (key: PhaseKey, title: string, steps: Step[], budget = lockBudget) => {
    out.push({ key, title, steps, budget });
  };
  phase('capture', 'capture', [createLogTable(facts), createCaptureFunction(facts), createCaptureTriggers(facts)]);
  const ranged = version >= 140000 && eff.order.length === 0;
  const plan = indexPlan(facts);
  const indexSteps = [
    ...(eff.moveIndexes ? [{ ...setDefaultTablespace(eff.tablespace), description: 'indexes go to the new tablespace (move_indexes), in each build\'s transaction' }] : []),
    ...plan.alone.map((k) => buildIndex(facts, facts.indexes[k]!, k)),
    ...plan.parallel.map((k) => buildIndex(facts, facts.indexes[k]!, k)),
    ...plan.attach.map((k) => attachConstraint(facts, facts.indexes[k]!, k)),
  ];
  const indexPhase = `${plan.alone.length} alone, ${plan.parallel.length} over ${conn.parallelSessions} sessions, largest first`;
  if (options.choice.chunked) {
    phase('indexes', `indexes, on the empty copy (${indexPhase})`, [...createCopyTable(facts, eff), ...indexSteps, ...createProgressTable(facts)]);
    const chunk = copyChunk(facts, 1000, false);
    phase(
      'copy',
      `copy in chunks (copy_mode ${conn.copyMode}: each chunk one REPEATABLE READ transaction of about ${conn.chunkTimeSeconds} s, ` +
        `its row count adapted; between chunks: ${throttleSummary(conn)})`,
      [createBatchTable(facts), takeChunkLogBatch(facts), ...replayBatch(facts).apply, { ...chunk, description: `${chunk.description} (the first chunk starts from the smallest key)` }],
    );
  } else {
    phase(
      'copy',
      `copy (copy_mode ${conn.copyMode}: one REPEATABLE READ snapshot${ranged ? `, page ranges over ${conn.parallelSessions} sessions sharing it` : ''}` +
        `${eff.order.length > 0 ? ', one ordered statement' : ''})`,
      [...createCopyTable(facts, eff), copyRows(facts, ranged, eff.order)],
    );
    phase('indexes', `indexes (${indexPhase})`, indexSteps);
  }
  const batch = replayBatch(facts, eff.order);
  const proofs = attachProofSteps(facts).map((s) => ({ ...s, description: `once, before the first batch: ${s.description}` }));
  phase('replay', 'replay (each batch one REPEATABLE READ transaction, until the predicted swap fits)', [
    ...proofs, createBatchTable(facts), batch.take, { ...emptyCopy(facts), description: `only when the batch took a TRUNCATE marker: ${emptyCopy(facts).description}` },
    ...batch.apply,
  ]);
  await client.query(`SELECT set_config('search_path', 'pg_catalog, pg_temp', true)`);
  const foreignKeys = await liveForeignKeys(client, facts.oid);
  const views = await liveViews(client, facts.oid);
  // The copy's identity sequences do not exist before a run: named here by their originals.
  const identities = facts.columns.filter((c) => c.identity !== '').map((c) => ({
    column: c.name, copySequence: `(the copy's ${c.name} sequence)`,
    originalSequence: { schema: facts.schema, name: `(${c.name} sequence)` }, lastValue: '(current)', isCalled: true, acl: { items: null, columns: [], otherGrantors: [] }, comment: null,
  }));
  phase(
    'swap',
    'swap (one transaction; shown as the first try runs it: the next try locks the table first, then the rest only if free at once)',
    [...swapLocks(facts), ...[batch.take, emptyCopy(facts), ...batch.apply].map((s) => ({ ...s, description: `final catch-up: ${s.description}` })),
      ...swapSteps({
        facts, foreignKeys, views, identities,
        triggers: await liveTriggers(client, facts.oid),
        rules: await liveRules(client, facts.oid),
        policies: await livePolicies(client, facts.oid),
        publications: await livePublications(client, facts.oid, version),
        matviews: await liveMatviews(client, facts.oid),
        statistics: await liveStatistics(client, facts.oid),
        options: eff,
      })],
    swapBudget,
  );
  phase('after', 'after the swap (writers not blocked)', [
    ...foreignKeys.filter((f) => f.validated).map((f) => validateForeignKey(quoteQualified(f.table), f.name)),
    dropOldTable(facts.oid), dropWorkObjects(facts.oid),
    ...(conn.analyzeTables
      ? [{ description: 'ANALYZE', sql: `ANALYZE ${tableRef(facts)}`, locks: [{ table: tableRef(facts), level: 'SHARE UPDATE EXCLUSIVE' as const }] }]
      : []),
  ], afterBudget);
  return out;
}

/** The SQL section: every phase's statements with the locks they take and their bound. */
function sqlLines(phases: PlannedPhase[]): string[] {
  return phases.flatMap((p) => [` ${p.title}:`, ...p.steps.map((s) => render(s, p.budget))]);
}

export async function dryRun(rt: Runtime): Promise<number> {
  let code: number = ExitCode.ok;
  for (const conn of rt.connections) {
    const client = await connect(conn, { home: rt.home, applicationName: 'rpcl dry-run' });
    const print = (line: string) => process.stdout.write(`${line}\n`);
    try {
      // Checked before the READ ONLY transaction, which may not create even a temporary table.
      const storageChecks = await checkStorageOf(client, conn.tableOptions ?? []);
      // The bloat sample reads every selected table: before the READ ONLY transaction, one
      // read-only statement each, so that no table keeps its ACCESS SHARE lock (and an
      // application's ALTER TABLE queued behind it) until the whole dry run ends.
      await client.query(`SET default_transaction_read_only = on`);
      const selection = await selectTables(client, conn.schemas, conn.tables, { sample: true });
      await client.query('BEGIN READ ONLY');
      const version = Number((await client.query(`SELECT current_setting('server_version_num') AS v`)).rows[0].v);
      print(`connection ${conn.name} (dry run: nothing is changed)`);
      if ((await helperSchemaState(client)).kind === 'absent') print(` a run would first create the helper schema ${HELPER_SCHEMA}`);
      if (selection.sampleError) print(`warning: ${selection.sampleError}`);
      for (const m of selection.missing) {
        print(`${displayQualified(m)}: refused: ${describeMissing(m)}`);
        code = ExitCode.refused;
      }
      const unmatched = await unmatchedEntries(client, conn, selection.candidates);
      for (const m of unmatched.missing) print(`refused: ${m}`);
      for (const w of unmatched.unselected) print(`warning: ${w}`);
      if (unmatched.missing.length > 0) code = ExitCode.refused;
      const thresholds = applyThresholds(selection.candidates, conn);
      const pagesRead = selection.candidates.reduce((a, c) => a + (c.bloat?.pagesRead ?? 0), 0);
      print(` bloat thresholds: ${thresholdText(conn)}; the estimate read ${pagesRead} pages`);
      for (const s of thresholds.skipped) print(`-. ${s.line}`);
      for (const n of thresholds.namedBelow) print(` note: ${n.line}`);
      for (const [i, c] of thresholds.kept.entries()) {
        const facts = await inspectTable(client, c.oid);
        if (facts === null) continue;
        const reason = refusalReason(facts, await readCircumstances(client, facts.schema));
        const name = displayQualified(facts);
        if (reason !== null) {
          print(`${i + 1}. ${name}: refused: ${reason} (${figuresText(figuresOf(c))})`);
          if (c.listed) code = ExitCode.refused;
          continue;
        }
        const options = await tableOptionsFor(client, conn, facts, storageChecks);
        if ('refusal' in options) {
          print(`${i + 1}. ${name}: refused: ${options.refusal}`);
          code = ExitCode.refused;
          continue;
        }
        print(`${i + 1}. ${name}: ${formatBytes(facts.totalBytes)}, about ${Math.round(facts.estimatedRows)} rows, estimated bloat ${formatBytes(c.estimatedBloatBytes)}`);
        print(`   ${'bloat (sample)'.padEnd(17)}${figuresText(figuresOf(c))}${c.bloat ? `; ${c.bloat.table.method}` : ''}`);
        const phases = await planFor(client, facts, conn, version, options);
        const summary = tableSummary({
          sizes: {
            totalBytes: c.totalBytes, heapBytes: c.heapBytes, indexBytes: c.indexBytes,
            bloatBytes: c.estimatedBloatBytes, afterBytes: extraSpaceBytes(c),
          },
          copy: {
            chunked: options.choice.chunked, configured: conn.copyMode, chunkedFromBytes: CHUNKED_FROM_BYTES,
            ranged: version >= 140000 && options.effective.order.length === 0, parallelSessions: conn.parallelSessions, chunkTimeSeconds: conn.chunkTimeSeconds,
            throttle: throttleSummary(conn),
          },
          phases,
          lockRef: tableRef(facts),
          bounds: {
            lockTimeoutMs: conn.lockTimeoutMs, swapStatementTimeoutMs: swapStatementTimeoutMs(conn.lockTimeoutMs),
            swapAttempts: conn.swapAttempts, swapBudgetMs: defaultEngineOptions.swapBudgetMs, cleanupAttempts: cleanupOptionsFor(conn).attempts,
            swapDeadlineMs: conn.swapDeadlineMs, swapWindow: conn.swapWindow?.text ?? null,
          },
        });
        for (const line of summary) print(line);
        for (const line of describeOptions(facts, options.effective)) print(`   ${line}`);
        if (options.choice.note !== null) print(`   ${''.padEnd(17)}${options.choice.note}`);
        if (facts.partition !== null) print(partitionLine(facts.partition));
        print(' SQL, phase by phase:');
        for (const line of sqlLines(phases)) print(line);
      }
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }
  return code;
}

/** What the swap does to a partition's parent: the whole application's table. */
function partitionLine(p: PartitionFact): string {
  const parent = displayQualified(p.parent);
  return `   ${'partition'.padEnd(17)}of ${parent} ${p.bound}: the swap detaches it and attaches the copy in its place, ` +
    `holding ACCESS EXCLUSIVE on ${parent} (every query on it waits) for the swap's milliseconds`;
}
