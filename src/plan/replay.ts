/**
 * Replay of the change log into the copy (design notes, invariants 2, 3 and 5).
 *
 * One batch = one REPEATABLE READ transaction: it takes (and deletes) exactly the log rows its
 * snapshot sees, deletes the touched keys from the copy and re-inserts their current state
 * read from the table in that same snapshot. After the batch, the copy equals the table as of
 * that snapshot: every change committed since the previous batch's snapshot logged a key that
 * this batch sees. Because the copy only ever moves from one committed snapshot's state to a
 * later one's, unique and exclusion constraints on the copy never see a state that no
 * committed snapshot had. No ordering by id or xid is involved, and no log row is deleted that
 * was not applied.
 */
import { quoteIdent } from '../db/ident.js';
import type { TableFacts } from '../inspect/facts.js';
import { helperName, keyColumnDeclaration, keyColumns, markerColumn, tableRef } from './capture.js';
import { copiedColumns, overriding } from './copy.js';
import { workNames } from './names.js';
import type { Step } from './step.js';
import type { OrderItem } from '../config/table-options.js';
import { orderByClause } from './table-options.js';

export function batchRef(facts: TableFacts): string {
  return `pg_temp.${quoteIdent(workNames.batchTable(facts.oid))}`;
}

function keyMatch(facts: TableFacts, left: string, right: string): string {
  return keyColumns(facts)
    .map((c) => `${left}.${quoteIdent(c.name)} = ${right}.${quoteIdent(c.name)}`)
    .join(' AND ');
}

/** Session-private list of the keys one batch touches; emptied at every commit. */
export function createBatchTable(facts: TableFacts): Step {
  const cols = keyColumns(facts).map(keyColumnDeclaration).join(', ');
  return {
    description: 'create the replay batch table (temporary)',
    sql: `CREATE TEMPORARY TABLE IF NOT EXISTS ${quoteIdent(workNames.batchTable(facts.oid))} (${cols}) ON COMMIT DELETE ROWS`,
  };
}

/**
 * Result columns: log_rows (log rows consumed), keys (distinct keys touched), truncated (a
 * TRUNCATE marker was among them). `only`, when given, is a condition on the taken keys: the
 * rows it rejects are consumed all the same, but not replayed (the chunked copy's frontier).
 */
export function takeLogBatch(facts: TableFacts, only = ''): Step {
  const keys = keyColumns(facts).map((c) => quoteIdent(c.name)).join(', ');
  const marker = markerColumn(facts);
  return {
    description: 'take the log rows this snapshot sees',
    sql:
      `WITH taken AS (DELETE FROM ${helperName(workNames.logTable(facts.oid))} RETURNING ${keys}), ` +
      `touched AS (INSERT INTO ${batchRef(facts)} (${keys}) SELECT DISTINCT ${keys} FROM taken WHERE ${marker} IS NOT NULL${only ? ` AND ${only}` : ''} RETURNING 1) ` +
      `SELECT (SELECT count(*) FROM taken)::int8 AS log_rows, (SELECT count(*) FROM touched)::int8 AS keys, ` +
      `EXISTS (SELECT 1 FROM taken WHERE ${marker} IS NULL) AS truncated`,
  };
}

/**
 * The batch saw the application's TRUNCATE: the copy is emptied; the batch's keys, re-read
 * next, are every row the table holds in this snapshot (plan/capture.ts says why). The
 * copy is rpcl's own, so its ACCESS EXCLUSIVE lock keeps no one waiting.
 */
export function emptyCopy(facts: TableFacts): Step {
  return { description: 'the application truncated the table: empty the copy', sql: `TRUNCATE ${helperName(workNames.copyTable(facts.oid))}` };
}

export function deleteTouchedRows(facts: TableFacts): Step {
  return {
    description: 'delete the touched keys from the copy',
    sql: `DELETE FROM ${helperName(workNames.copyTable(facts.oid))} c USING ${batchRef(facts)} b WHERE ${keyMatch(facts, 'c', 'b')}`,
  };
}

/**
 * `order` (table_options): a batch's rows go in in that order. They land after the copied rows,
 * so rows changed during the run are ordered among themselves only, as with pg_repack.
 */
export function insertTouchedRows(facts: TableFacts, order: OrderItem[] = []): Step {
  const cols = copiedColumns(facts);
  const sorted = orderByClause(order, 'o.');
  return {
    description: 'insert the touched keys as the table holds them now',
    sql:
      `INSERT INTO ${helperName(workNames.copyTable(facts.oid))} (${cols.join(', ')})${overriding(facts)} ` +
      `SELECT ${cols.map((c) => `o.${c}`).join(', ')} FROM ONLY ${tableRef(facts)} o ` +
      `JOIN ${batchRef(facts)} b ON ${keyMatch(facts, 'o', 'b')}${sorted}`,
  };
}

export function analyzeBatch(facts: TableFacts): Step {
  return { description: 'statistics for the batch', sql: `ANALYZE ${batchRef(facts)}` };
}

/** The whole batch, in order. takeLogBatch's result carries the counts. */
export function replayBatch(facts: TableFacts, order: OrderItem[] = []): { take: Step; apply: Step[] } {
  return { take: takeLogBatch(facts), apply: [deleteTouchedRows(facts), insertTouchedRows(facts, order)] };
}
