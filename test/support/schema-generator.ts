/**
 * Schemas nobody thought of (design notes, section 6): a seeded generator of one table to
 * repack, with everything that can hang off it. The seed picks every feature; the same seed and
 * server major always give the same SQL text, so a failing case is reproduced from its seed
 * alone. The random source is fast-check's (`fc.gen` sampled with the seed, unbiased draws).
 *
 * The output is one SQL script (schema, data with bloat, dependents, comments; also as single
 * statements), the SQL of the dual-write control table, the writer workload's statements for
 * this schema, the features it covers, and the refusals rpcl documents for any of them on this
 * server. One seed in four makes the table partitioned (schema-generator/partitioning.ts): rpcl
 * is then told to repack the partitioned table or one of its leaves.
 *
 * This file puts the parts together, in the order they draw; each part is a file under
 * schema-generator/, named for what it adds.
 */
import { addComments } from './schema-generator/comments.js';
import { drawColumns } from './schema-generator/columns.js';
import { addConstraintsAfterData, drawTableConstraints } from './schema-generator/constraints.js';
import { startGeneration } from './schema-generator/context.js';
import { addForeignKeysIn } from './schema-generator/foreign-keys-in.js';
import { drawForeignKeysOut } from './schema-generator/foreign-keys-out.js';
import { addOwnerAndGrants } from './schema-generator/grants.js';
import { addIndexes } from './schema-generator/indexes.js';
import { drawKey } from './schema-generator/key.js';
import { nameTarget } from './schema-generator/names.js';
import { addPartitionExtras } from './schema-generator/partition-dependents.js';
import { drawPartitioning, partitionRefusals } from './schema-generator/partitioning.js';
import { addPolicies } from './schema-generator/policies.js';
import { addPublication } from './schema-generator/publication.js';
import { addExtendedStatistics } from './schema-generator/statistics.js';
import { createAndLoadTable } from './schema-generator/table.js';
import { setTableOptions } from './schema-generator/table-options.js';
import { drawRewriteOptions, type RewriteOptions } from './schema-generator/rewrite-options.js';
import { addTriggersAndRules } from './schema-generator/triggers-and-rules.js';
import { addViews } from './schema-generator/views.js';
import { buildWorkload, controlTableSql, type Workload } from './schema-generator/workload.js';

export { qi, ql } from './schema-generator/quote.js';
export type { Workload } from './schema-generator/workload.js';

export interface GeneratedSchema {
  seed: number;
  major: number;
  /** Schema, data and dependents, as one script (what psql would run). */
  sql: string;
  /** The same, one statement each, to run one by one (autocommit, like psql). */
  statements: string[];
  /** The dual-write oracle's control table (a copy of the table), to run after `sql`. */
  controlSql: string;
  /**
   * What rpcl is told to repack, schema-qualified and quoted: the table, or for a partitioned
   * table the table itself (each of its leaves) or one leaf.
   */
  target: string;
  /** The table the writers change and the control copies (a partitioned table's root). */
  table: string;
  /** For a partitioned table: its partitioned tables (the table first) and its leaves, and the leaves the run rewrites. */
  partitions: { partitioned: string[]; leaves: string[]; rewritten: string[] } | null;
  control: string;
  /** Key columns, quoted. */
  keys: string[];
  /** A sequence that feeds the key (serial or identity): after the repack it must still be ahead of max(key). */
  keySequence: { column: string } | null;
  workload: Workload;
  /** Short names of what this seed covers, for the per-seed line. */
  features: string[];
  /**
   * Refusals rpcl documents for a feature of this schema on this server: the run may end with
   * one of them (exit 5, nothing changed) instead of a repack.
   */
  expectedRefusals: { feature: string; pattern: RegExp }[];
  /** table_options the run is given (set on the table beforehand too, so nothing may change). */
  rewriteOptions: RewriteOptions | null;
}

export function generateSchema(seed: number, major: number): GeneratedSchema {
  const g = startGeneration(seed, major);
  const target = nameTarget(g);
  const key = drawKey(g, target);
  // Its own stream: drawn or not, the draws of everything else are as they were.
  const part = drawPartitioning(g, target, key);
  const columns = drawColumns(g, target, key);
  const fksOut = drawForeignKeysOut(g, target, key, columns, part);
  const { cons, leafCons, codeUnique } = drawTableConstraints(g, target, key, columns, fksOut, part);
  createAndLoadTable(g, target, key, columns, fksOut, { cons, leafCons }, part);
  addConstraintsAfterData(g, target, columns, fksOut);
  const indexes = addIndexes(g, target, key, columns, [...cons, ...leafCons], part);
  const { cascadeChild, referenced, expectedRefusals } = addForeignKeysIn(g, target, key, columns, codeUnique, part);
  const updatableView = addViews(g, target, key, columns, cascadeChild);
  addTriggersAndRules(g, target, key, columns);
  if (part) addPartitionExtras(g, target, key, columns, part);
  addPolicies(g, target, columns);
  addPublication(g, target, key, columns, fksOut, cons, part);
  addExtendedStatistics(g, target, key, columns);
  addOwnerAndGrants(g, target, key, columns);
  setTableOptions(g, target, columns, indexes, part);
  const rewriteOptions = drawRewriteOptions(g, target, columns, part);
  addComments(g, target, key, columns, part);
  const workload = buildWorkload(target, key, columns, fksOut, updatableView, part);
  expectedRefusals.push(...partitionRefusals(part, {
    fkIn: referenced,
    fkOut: fksOut.useParent || fksOut.useSelf,
    identity: key.keyCols.some((k) => k.def.includes('IDENTITY')) || columns.has.has('ticket identity'),
  }));

  return {
    seed,
    major,
    sql: g.sql.join('\n') + '\n',
    statements: g.sql,
    controlSql: controlTableSql(target, key),
    target: part?.target ?? target.T,
    table: target.T,
    partitions: part && {
      partitioned: [target.T, ...part.middles],
      leaves: part.leaves,
      rewritten: part.target === target.T ? part.leaves : [part.target],
    },
    control: 'rs_control.control',
    keys: key.keys,
    keySequence: key.keySequence,
    workload,
    features: [...new Set(g.features)],
    expectedRefusals,
    rewriteOptions,
  };
}
