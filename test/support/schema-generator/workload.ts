/**
 * The writer workload for this schema (the statements the writers run during the repack) and the
 * dual-write oracle's control table. On a partitioned table the writers work through it: rows
 * are picked from every partition, and a key change moves rows between partitions wherever the
 * partition key changes with it (a key from a sequence or random goes elsewhere; the tenant
 * is changed for it).
 */
import type { Columns } from './columns.js';
import type { ForeignKeysOut } from './foreign-keys-out.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import type { Partitioning } from './partitioning.js';
import { qi } from './quote.js';

export interface Workload {
  /** $1 a random integer; RETURNING the new row's key columns. */
  insert: string;
  /** $1..$n the key, $n+1 a random integer. */
  update: string;
  /**
   * The same kind of update through the dependent view (same parameters), or null: first a
   * statement on the table that fixes what an update must fix (NOT VALID constraints are checked
   * on every new row version), then the view's update.
   */
  updateViaView: string[] | null;
  /** $1..$n the key. */
  remove: string;
  /**
   * Run after `remove` in the same transaction, with the same parameters: re-mirrors the other
   * rows the delete changed (self-referencing foreign key actions).
   */
  afterRemove: string[];
  /** $1..$n the key; RETURNING the new key. */
  changeKey: string;
  /**
   * A partitioned table's leaves, and the query for the key of a random row in one ($1 the
   * leaf): the writers choose a leaf first half of the time, so that small partitions get their
   * share. Null for a plain table.
   */
  partitions: { leaves: string[]; pick: string } | null;
}

export function buildWorkload(
  { T }: Target,
  { keyCols, keys, keyList }: Key,
  { columns, v }: Columns,
  { afterRemove }: ForeignKeysOut,
  updatableView: string | null,
  part: Partitioning | null,
): Workload {
  const change = (k: { name: string; change: string }) => part?.keyChange.get(k.name) ?? k.change;
  const keyMatch = (alias: string, from = 1) => keys.map((k, i) => `${alias}${k} = $${i + from}`).join(' AND ');
  const insertCols = [
    ...keyCols.filter((k) => k.insert !== null).map((k) => ({ name: k.name, expr: k.insert! })),
    ...columns.filter((c) => c.insert !== null).map((c) => ({ name: c.name, expr: c.insert! })),
  ];
  const rand = `$${keys.length + 1}::int`;
  const fixes = columns.filter((c) => c.name === 'legacy' || c.name === 'maybe').map((c) => `${qi(c.name)} = ${c.update!}`);
  const sets = columns.filter((c) => c.update !== null).map((c) => `${qi(c.name)} = ${c.update!.replace(/RAND/g, rand)}`);
  return {
    insert: insertCols.length > 0
      ? `INSERT INTO ${T} (${insertCols.map((c) => qi(c.name)).join(', ')}) VALUES (${insertCols.map((c) => c.expr).join(', ')}) RETURNING ${keyList}`
      : `INSERT INTO ${T} DEFAULT VALUES RETURNING ${keyList}`,
    update: `UPDATE ${T} SET ${sets.join(', ')} WHERE ${keyMatch('')}`,
    updateViaView: updatableView
      ? [
          ...(fixes.length > 0 ? [`UPDATE ${T} SET ${fixes.join(', ')} WHERE ${keyMatch('')} AND 0 * ${rand} = 0`] : []),
          `UPDATE ${updatableView} SET ${v} = ${v} + 1 + 0 * ${rand} WHERE ${keyMatch('')}`,
        ]
      : null,
    remove: `DELETE FROM ${T} WHERE ${keyMatch('')}`,
    afterRemove,
    changeKey: `UPDATE ${T} SET ${[...keyCols.filter((k) => change(k) !== k.name).map((k) => `${qi(k.name)} = ${change(k)}`), ...fixes].join(', ')} WHERE ${keyMatch('')} RETURNING ${keyList}`,
    partitions: part && { leaves: part.leaves, pick: `SELECT ${keyList} FROM ${T} WHERE tableoid = $1::regclass ORDER BY random() LIMIT 1` },
  };
}

/** The dual-write oracle's control table (a copy of the table), to run after the schema's script. */
export function controlTableSql({ T }: Target, { keyList }: Key): string {
  return [
    'CREATE SCHEMA rs_control;',
    `CREATE TABLE rs_control.control AS SELECT * FROM ${T};`,
    `ALTER TABLE rs_control.control ADD PRIMARY KEY (${keyList});`,
  ].join('\n');
}
