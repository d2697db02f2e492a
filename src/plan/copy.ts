/**
 * The copy: a new table built from the old one's definition in the helper schema, filled in
 * one snapshot, then given the old table's indexes and constraints under temporary names.
 */
import { quoteIdent } from '../db/ident.js';
import type { IndexFact, TableFacts } from '../inspect/facts.js';
import { helperName, tableRef } from './capture.js';
import { reloptionItems } from './options.js';
import { HELPER_SCHEMA, workNames } from './names.js';
import { boundCheck } from './partition.js';
import type { Step } from './step.js';
import type { OrderItem } from '../config/table-options.js';
import { copyStorageItems, NO_OPTIONS, orderByClause, type EffectiveOptions } from './table-options.js';

/** Columns whose values are copied: generated columns compute themselves. */
export function copiedColumns(facts: TableFacts): string[] {
  return facts.columns.filter((c) => c.generated === '').map((c) => quoteIdent(c.name));
}

/** GENERATED ALWAYS identity columns accept the old values only with OVERRIDING SYSTEM VALUE. */
export function overriding(facts: TableFacts): string {
  return facts.columns.some((c) => c.identity === 'a' && c.generated === '') ? ' OVERRIDING SYSTEM VALUE' : '';
}

/**
 * LIKE ... INCLUDING ALL brings columns in order with types, collations, defaults, NOT NULL,
 * CHECK constraints, identity and generated definitions, storage, compression and column
 * comments. Indexes come later (building them after the data is faster); extended statistics
 * are refused before the run for now. Autovacuum is off on the copy so that no worker holds
 * a lock on it when the swap needs one; the swap restores the original reloptions.
 */
export function createCopyTable(facts: TableFacts, eff: EffectiveOptions = NO_OPTIONS): Step[] {
  const copy = helperName(workNames.copyTable(facts.oid));
  const unlogged = facts.persistence === 'u' ? 'UNLOGGED ' : '';
  // table_options: the new table (its TOAST table with it) goes to the requested tablespace, and
  // gets the requested storage parameters before its rows, so its pages are filled by them.
  const space = eff.tablespace ?? facts.tablespace;
  const tablespace = space ? ` TABLESPACE ${quoteIdent(space)}` : '';
  const storage = copyStorageItems(eff).map((i) => `, ${i}`).join('');
  const steps: Step[] = [
    {
      description: 'create the copy table',
      sql:
        `CREATE ${unlogged}TABLE ${copy} (LIKE ${tableRef(facts)} INCLUDING ALL EXCLUDING INDEXES EXCLUDING STATISTICS)` +
        ` WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false${storage})${tablespace}`,
    },
    {
      description: 'give the copy the original owner',
      sql: `ALTER TABLE ${copy} OWNER TO ${quoteIdent(facts.owner)}`,
    },
  ];
  const bound = boundCheck(facts);
  if (bound) steps.push(bound);
  // NOT VALID constraints may have violating rows, which the copy must take as they are: LIKE
  // copies such a constraint as a valid one, so it is dropped here and re-added NOT VALID by
  // the swap.
  for (const c of facts.notValidConstraints) {
    steps.push({
      description: `constraint ${c.name} is NOT VALID: left off the copy until the swap`,
      sql: `ALTER TABLE ${copy} DROP CONSTRAINT ${quoteIdent(c.name)}`,
    });
  }
  for (const c of facts.columns) {
    if (c.statisticsTarget !== null) {
      steps.push({
        description: `statistics target of column ${c.name}`,
        sql: `ALTER TABLE ${copy} ALTER COLUMN ${quoteIdent(c.name)} SET STATISTICS ${Math.trunc(c.statisticsTarget)}`,
      });
    }
    if (c.options.length > 0) {
      steps.push({
        description: `attribute options of column ${c.name}`,
        sql: `ALTER TABLE ${copy} ALTER COLUMN ${quoteIdent(c.name)} SET (${reloptionItems(c.options).join(', ')})`,
      });
    }
  }
  return steps;
}

/**
 * One chunk of the copy. On PostgreSQL 14 and later the executor copies by ranges of heap
 * pages (a TID range scan) inside one REPEATABLE READ transaction, so progress is visible and
 * the whole copy still reads a single snapshot; on 13 it copies in one statement. An ordered
 * copy (table_options order_by, or the CLUSTER index) is one statement with ORDER BY: rows are
 * appended to the new heap in the order they arrive, which page ranges copied side by side
 * would interleave.
 */
export function copyRows(facts: TableFacts, ranged: boolean, order: OrderItem[] = []): Step {
  if (ranged && order.length > 0) throw new Error('an ordered copy cannot be made by page ranges');
  const cols = copiedColumns(facts).join(', ');
  const where = ranged ? ' WHERE ctid >= $1::tid AND ctid < $2::tid' : '';
  return {
    description: order.length > 0 ? 'copy rows in order' : 'copy rows',
    sql:
      `INSERT INTO ${helperName(workNames.copyTable(facts.oid))} (${cols})${overriding(facts)} ` +
      `SELECT ${cols} FROM ONLY ${tableRef(facts)}${where}${orderByClause(order)}`,
  };
}

/**
 * How the copy gets its indexes and constraints, under temporary names (the originals' names
 * are taken until the swap). Plain indexes and the indexes of PRIMARY KEY and UNIQUE
 * constraints are built with CREATE INDEX, which takes only a SHARE lock on the copy, so
 * several sessions can build them at once; the constraints are then attached to their built
 * indexes (catalog work only). EXCLUDE constraints can only be built by ALTER TABLE, which
 * locks the copy exclusively, so they are built one by one before the others.
 */
export interface IndexPlan {
  /** Positions in facts.indexes built alone by ALTER TABLE ... ADD CONSTRAINT. */
  alone: number[];
  /** Positions built by CREATE INDEX, in any order, by any session. */
  parallel: number[];
  /** Positions whose constraint is attached after the parallel builds. */
  attach: number[];
}

export function indexPlan(facts: TableFacts): IndexPlan {
  const plan: IndexPlan = { alone: [], parallel: [], attach: [] };
  facts.indexes.forEach((index, k) => {
    if (index.constraint?.type === 'x' || (index.constraint && index.definitionTail === null)) {
      plan.alone.push(k);
    } else {
      plan.parallel.push(k);
      if (index.constraint) plan.attach.push(k);
    }
  });
  // Largest first: sessions that take the next index from a queue finish closest together
  // when the long builds start early (the original index's size stands in for build time).
  plan.parallel.sort((a, b) => facts.indexes[b]!.bytes - facts.indexes[a]!.bytes || a - b);
  return plan;
}

/**
 * PostgreSQL's own parallel index build (max_parallel_maintenance_workers) for one build:
 * worth it when a build runs alone; when rpcl's sessions already build several indexes at
 * once, extra worker processes only compete with them, and with the application, for CPU.
 */
export function maintenanceWorkers(sideBySide: boolean): Step | null {
  return sideBySide
    ? { description: 'no parallel workers for side-by-side builds', sql: `SELECT set_config('max_parallel_maintenance_workers', '0', true)` }
    : null;
}

export function buildIndex(facts: TableFacts, index: IndexFact, k: number): Step {
  const copy = helperName(workNames.copyTable(facts.oid));
  const tmp = quoteIdent(workNames.copyIndex(facts.oid, k));
  if (index.constraint && (index.constraint.type === 'x' || index.definitionTail === null)) {
    return {
      description: `build constraint ${index.constraint.name}`,
      sql: `ALTER TABLE ${copy} ADD CONSTRAINT ${tmp} ${index.constraint.definition}`,
    };
  }
  if (index.definitionTail === null) throw new Error(`cannot rebuild index ${index.name}: unexpected definition`);
  return {
    description: `build index ${index.name}`,
    sql: `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${tmp} ON ${copy}${index.definitionTail}`,
  };
}

/** Statistics targets set on the index's expression columns, for its copy. */
export function indexStatistics(facts: TableFacts, index: IndexFact, k: number): Step[] {
  const tmp = `${quoteIdent(HELPER_SCHEMA)}.${quoteIdent(workNames.copyIndex(facts.oid, k))}`;
  return index.statisticsTargets.map((s) => ({
    description: `statistics target of column ${s.column} of index ${index.name}`,
    sql: `ALTER INDEX ${tmp} ALTER COLUMN ${Math.trunc(s.column)} SET STATISTICS ${Math.trunc(s.target)}`,
  }));
}

/** Turns a built unique index into the PRIMARY KEY or UNIQUE constraint it backed. */
export function attachConstraint(facts: TableFacts, index: IndexFact, k: number): Step {
  const c = index.constraint;
  if (c === null || c.type === 'x') throw new Error(`index ${index.name} backs no primary key or unique constraint`);
  const tmp = quoteIdent(workNames.copyIndex(facts.oid, k));
  const kind = c.type === 'p' ? 'PRIMARY KEY' : 'UNIQUE';
  const timing = c.deferrable ? ` DEFERRABLE INITIALLY ${c.deferred ? 'DEFERRED' : 'IMMEDIATE'}` : '';
  return {
    description: `attach ${kind.toLowerCase()} ${c.name}`,
    sql: `ALTER TABLE ${helperName(workNames.copyTable(facts.oid))} ADD CONSTRAINT ${tmp} ${kind} USING INDEX ${tmp}${timing}`,
  };
}

/**
 * LIKE gives the copy's identity sequence every option of the original's but its data type
 * (it is always bigint): set it. `sequence` is the quoted name pg_get_serial_sequence returns.
 */
export function setSequenceType(sequence: string, dataType: 'smallint' | 'integer'): Step {
  return { description: `identity sequence ${sequence} as ${dataType}`, sql: `ALTER SEQUENCE ${sequence} AS ${dataType}` };
}

export function setDefaultTablespace(tablespace: string | null): Step {
  return {
    description: 'index tablespace',
    sql: `SELECT set_config('default_tablespace', $1, true)`,
    params: [tablespace ?? ''],
  };
}

