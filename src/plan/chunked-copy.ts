/**
 * The chunked copy (copy_mode = "chunked"): the copy is filled by ranges of the replay key, each
 * range in its own short REPEATABLE READ transaction, into a copy whose indexes and constraints
 * already exist. No transaction of rpcl's stays open for long, whatever the table's size.
 *
 * The progress table holds the frontier F: the highest key copied so far (NULL before the first
 * chunk), the rows copied and whether the copy is complete; and the upper bound U: the highest
 * key when the copy started (after the capture trigger existed). Chunks copy keys up to U
 * only: rows inserted later above U (a serial key's tail) go through the log, so a copy of a
 * table that grows at its end still ends. Both are written in the chunks' own transactions,
 * so they always describe the copy as committed, and a restart continues from them.
 *
 * The invariant, true after every commit: the copy holds exactly the table's rows with key <= F
 * or key > U, as of the snapshot S of the last chunk. Proof, one chunk with snapshot S (the
 * previous chunk's snapshot was S0, and the invariant held for F as of S0; at the start it
 * holds for F = nothing, as no row above U existed when U was read and every later write is
 * logged):
 *   1. It takes (and deletes) every log row S sees. Every change committed after S0 and seen
 *      by S logged its keys there (old and new key when the key changed), and S0 saw none of
 *      those rows, because the previous chunk deleted every row S0 saw. Keys <= F or > U are
 *      replayed: deleted from the copy and re-read from the table in S, so those parts of the
 *      copy are the table's as of S. Keys in (F, U] are dropped: they are copied later in a
 *      snapshot that is not older than S, which sees the change. A row whose key moved logged
 *      its old and its new key; each is replayed or copied later by the rule of its own range.
 *   2. It copies the rows with F < key <= min(F', U) in S, F' being the last of the next N keys,
 *      and writes F' as the new frontier: the invariant holds for F' as of S.
 *   3. An application TRUNCATE seen by S empties the copy first; every row S sees was written
 *      after it and logged after its marker, in this batch (plan/capture.ts).
 * Every intermediate state inside the transaction is a subset of one committed state (the
 * table as of S), so unique and exclusion constraints on the copy see no conflict that the
 * table did not have. When a chunk finds fewer than N rows up to U, the copy holds every row as
 * of S: the copy is complete, and the ordinary replay (which takes every key) takes over. An
 * empty table has no U: its copy is complete at once.
 *
 * Key ranges, not heap pages: a row that is updated moves to another page, so only the key says
 * whether a logged change falls in the copied part.
 */
import { quoteIdent } from '../db/ident.js';
import type { TableFacts } from '../inspect/facts.js';
import { helperName, keyColumnDeclaration, keyColumns, tableRef } from './capture.js';
import { copiedColumns, overriding } from './copy.js';
import { takeLogBatch } from './replay.js';
import { workNames } from './names.js';
import type { Step } from './step.js';

export function progressRef(facts: Pick<TableFacts, 'oid'>): string {
  return helperName(workNames.progressTable(facts.oid));
}

/** `(k1, k2)` for a composite key, `k1` for one column: row comparisons then use the key's index. */
function keyTuple(facts: TableFacts, alias = ''): string {
  const cols = keyColumns(facts).map((c) => `${alias}${quoteIdent(c.name)}`);
  return cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`;
}

/**
 * The frontier (or the upper bound) as one scalar subquery per key column: a row of InitPlan
 * parameters compared with the key is an index condition; a row subquery would not be.
 */
function boundTuple(facts: TableFacts, kind: 'frontier' | 'upper'): string {
  const cols = keyColumns(facts).map((c) => `(SELECT ${quoteIdent(c.name)} FROM ${progressRef(facts)} WHERE rpcl_kind = '${kind}')`);
  return cols.length === 1 ? cols[0]! : `(${cols.join(', ')})`;
}

/**
 * rpcl's own columns are prefixed, as the log's rpcl_id is: the key's columns sit beside them.
 * Two rows: the frontier (key columns NULL until the first chunk, with rows copied and whether
 * the copy is complete) and the upper bound. Created once the copy's indexes exist: a progress
 * table means the copy can be continued. An empty table's copy is complete at once.
 */
export function createProgressTable(facts: TableFacts): Step[] {
  const keyDecl = keyColumns(facts).map((c) => keyColumnDeclaration(c).replace(/ NOT NULL$/, ''));
  const keys = keyColumns(facts).map((c) => quoteIdent(c.name)).join(', ');
  const t = progressRef(facts);
  return [
    {
      description: 'create the chunked copy progress table',
      sql:
        `CREATE TABLE ${t} (rpcl_kind text PRIMARY KEY, ${keyDecl.join(', ')}, rpcl_rows_copied int8 NOT NULL DEFAULT 0, ` +
        `rpcl_chunks int8 NOT NULL DEFAULT 0, rpcl_complete boolean NOT NULL DEFAULT false)`,
    },
    { description: 'the copy is ready for its first chunk', sql: `INSERT INTO ${t} (rpcl_kind) VALUES ('frontier')` },
    {
      description: 'the upper bound: the highest key now (later rows above it reach the copy through the log)',
      sql: `INSERT INTO ${t} (rpcl_kind, ${keys}) SELECT 'upper', ${keys} FROM ONLY ${tableRef(facts)} ORDER BY ${keyColumns(facts).map((c) => `${quoteIdent(c.name)} DESC`).join(', ')} LIMIT 1`,
    },
    {
      description: 'an empty table needs no chunk',
      sql: `UPDATE ${t} SET rpcl_complete = true WHERE rpcl_kind = 'frontier' AND NOT EXISTS (SELECT 1 FROM ${t} WHERE rpcl_kind = 'upper')`,
    },
  ];
}

/** Result columns: rows_copied, chunks, complete, frontier (text, NULL before the first chunk). */
export function readProgress(facts: TableFacts): Step {
  const keys = keyColumns(facts).map((c) => quoteIdent(c.name));
  return {
    description: 'read the chunked copy progress',
    sql:
      `SELECT rpcl_rows_copied AS rows_copied, rpcl_chunks AS chunks, rpcl_complete AS complete, CASE WHEN ${keys[0]} IS NULL THEN NULL ELSE ROW(${keys.join(', ')})::text END AS frontier ` +
      `FROM ${progressRef(facts)} WHERE rpcl_kind = 'frontier'`,
  };
}

/**
 * Step 1 of a chunk: the log rows this snapshot sees, their keys at or below the frontier (NULL
 * before the first chunk: none) or above the upper bound kept for replay. Same result columns
 * as takeLogBatch.
 */
export function takeChunkLogBatch(facts: TableFacts): Step {
  const key = keyTuple(facts);
  return {
    ...takeLogBatch(facts, `(${key} <= ${boundTuple(facts, 'frontier')} OR ${key} > ${boundTuple(facts, 'upper')})`),
    description: 'take the log rows this snapshot sees; keep those in the copied key ranges',
  };
}

/**
 * Step 2 of a chunk: the next `rows` rows in key order after the frontier (from the start when
 * `first`) up to the upper bound, and the frontier moved to the last of them. Result column:
 * rows.
 */
export function copyChunk(facts: TableFacts, rows: number, first: boolean): Step {
  const cols = copiedColumns(facts).join(', ');
  const keys = keyColumns(facts).map((c) => quoteIdent(c.name));
  const key = keyTuple(facts);
  const range = `${first ? '' : `${key} > ${boundTuple(facts, 'frontier')} AND `}${key} <= ${boundTuple(facts, 'upper')}`;
  const order = keys.join(', ');
  return {
    description: `copy the next ${Math.trunc(rows)} rows in key order`,
    sql:
      `WITH ins AS (INSERT INTO ${helperName(workNames.copyTable(facts.oid))} (${cols})${overriding(facts)} ` +
      `SELECT ${cols} FROM ONLY ${tableRef(facts)} WHERE ${range} ORDER BY ${order} LIMIT ${Math.trunc(rows)} RETURNING ${order}), ` +
      `last AS (SELECT ${order} FROM ins ORDER BY ${keys.map((k) => `${k} DESC`).join(', ')} LIMIT 1), ` +
      `moved AS (UPDATE ${progressRef(facts)} p SET ${keys.map((k) => `${k} = last.${k}`).join(', ')}, ` +
      `rpcl_rows_copied = p.rpcl_rows_copied + (SELECT count(*) FROM ins), rpcl_chunks = p.rpcl_chunks + 1 FROM last WHERE p.rpcl_kind = 'frontier' RETURNING 1) ` +
      `SELECT (SELECT count(*) FROM ins)::int8 AS rows`,
  };
}

/** A chunk found fewer rows than it asked for: every row is in the copy. */
export function markCopyComplete(facts: TableFacts): Step {
  return { description: 'the chunked copy is complete', sql: `UPDATE ${progressRef(facts)} SET rpcl_complete = true WHERE rpcl_kind = 'frontier'` };
}
