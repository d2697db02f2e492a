/**
 * CREATE TABLE with its storage parameters and column storage, then the data: loaded, bloated,
 * and changed the ways that leave traces (a dropped column, a column added with a default, self
 * references, a NOT VALID self reference over orphans).
 */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { ForeignKeysOut } from './foreign-keys-out.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { createPartitions, type Partitioning } from './partitioning.js';
import { qi } from './quote.js';

export function createAndLoadTable(
  g: Gen,
  target: Target,
  { keyCols, composite }: Key,
  { columns, has, v, bigExternal, useJunk }: Columns,
  { useSelf, selfNotValid, selfCols, selfFkSql }: ForeignKeysOut,
  { cons, leafCons }: { cons: string[]; leafCons: string[] },
  part: Partitioning | null,
): void {
  const { T } = target;
  const { d, sql, since, feature } = g;
  // ---- storage parameters -----------------------------------------------------------------------
  const withOpts: string[] = [];
  if (d.chance(0.6)) withOpts.push(`fillfactor = ${d.pick([70, 80, 90, 100])}`);
  if (d.chance(0.3)) withOpts.push('autovacuum_vacuum_scale_factor = 0.02');
  if (has.has('text toasted') && d.chance(0.4)) withOpts.push('toast.autovacuum_enabled = false');
  if (withOpts.length > 0) feature(`WITH (${withOpts.join(', ')})`);

  const colDefs = [
    ...keyCols.map((k) => `${qi(k.name)} ${k.def}${composite ? ' NOT NULL' : ''}`),
    ...columns.map((c) => `${qi(c.name)} ${c.def}`),
  ];
  if (part === null) {
    sql.push(`CREATE TABLE ${T} (\n  ${[...colDefs, ...cons].join(',\n  ')}\n)${withOpts.length ? ` WITH (${withOpts.join(', ')})` : ''};`);
  } else {
    // A partitioned table has no storage: its leaves get the storage parameters.
    sql.push(`CREATE TABLE ${T} (\n  ${[...colDefs, ...cons].join(',\n  ')}\n) ${part.by};`);
    createPartitions(g, target, part, withOpts);
    for (const c of leafCons) sql.push(`ALTER TABLE ${part.special} ADD ${c};`);
  }

  // Column storage before the data, so the rows are stored the way the column says.
  if (has.has('text toasted')) {
    if (bigExternal) {
      sql.push(`ALTER TABLE ${T} ALTER COLUMN big SET STORAGE EXTERNAL;`);
      feature('storage EXTERNAL');
    }
    if (since(14, 0.4)) {
      sql.push(`ALTER TABLE ${T} ALTER COLUMN big SET COMPRESSION pglz;`);
      feature('column compression');
    }
  }

  // ---- data ---------------------------------------------------------------------------------------
  const rows = d.int(1500, 4000);
  const loadCols = [...keyCols.filter((k) => k.load !== null), ...columns.filter((c) => c.load !== null)];
  sql.push(
    `INSERT INTO ${T} (${loadCols.map((c) => qi(c.name)).join(', ')})\n  SELECT ${loadCols.map((c) => c.load).join(',\n    ')}\n  FROM generate_series(1::bigint, ${rows}) g;`,
  );
  // Bloat: a third of the rows deleted, a fifth updated in place.
  sql.push(`DELETE FROM ${T} WHERE ${v} % 3 = 1;`, `UPDATE ${T} SET ${v} = ${v} WHERE ${v} % 5 = 0;`);
  if (useJunk) {
    sql.push(`ALTER TABLE ${T} DROP COLUMN junk;`);
    columns.splice(columns.findIndex((c) => c.name === 'junk'), 1);
    feature('dropped column');
  }
  if (useSelf) {
    // Shallow trees: some rows point at an earlier root (v % 50 = 0) of their tenant.
    const last = keyCols[keyCols.length - 1]!;
    const sameTenant = composite ? 'r.tenant = t.tenant AND ' : '';
    sql.push(
      `UPDATE ${T} t SET ${qi(selfCols[selfCols.length - 1]!)} = (SELECT r.${qi(last.name)} FROM ${T} r
         WHERE ${sameTenant}r.${v} % 50 = 0 AND r.${qi(last.name)} < t.${qi(last.name)} ORDER BY r.${qi(last.name)} DESC LIMIT 1)
       WHERE t.${v} % 7 = 0;`,
    );
    if (selfNotValid) {
      sql.push(`UPDATE ${T} SET ${qi(selfCols[selfCols.length - 1]!)} = ${keyCols[keyCols.length - 1]!.orphan} WHERE ${v} % 101 = 3;`);
      sql.push(`ALTER TABLE ${T} ADD ${selfFkSql} NOT VALID;`);
    }
  }
  if (d.chance(0.4)) {
    sql.push(`ALTER TABLE ${T} ADD COLUMN late int NOT NULL DEFAULT 42;`);
    columns.push({ name: 'late', def: 'int NOT NULL DEFAULT 42', load: null, insert: null, update: 'late + 1' });
    feature('column added with a default (missing values)');
  }
}
