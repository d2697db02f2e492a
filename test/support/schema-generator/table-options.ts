/** Column statistics targets and options, and the index the table is marked to CLUSTER on. */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Target } from './names.js';
import { clusterOnePartition } from './partition-dependents.js';
import type { Partitioning } from './partitioning.js';
import { qi } from './quote.js';

export function setTableOptions(g: Gen, { ns, T }: Target, { has, v }: Columns, indexes: string[], part: Partitioning | null): void {
  const { d, sql, feature } = g;
  if (d.chance(0.5)) {
    sql.push(`ALTER TABLE ${T} ALTER COLUMN ${v} SET STATISTICS ${d.pick([0, 50, 500, 1000])};`);
    feature('column statistics target');
  }
  if (has.has('varchar') && d.chance(0.4)) {
    sql.push(`ALTER TABLE ${T} ALTER COLUMN label SET (n_distinct = 50);`);
    feature('column options');
  }
  if (indexes.length > 0 && d.chance(0.3)) {
    const idx = indexes.find((i) => !/gin|gist|brin|hash|spgist|partial/.test(i));
    if (idx && part) {
      // A partitioned table cannot be marked: one partition is, on its index of that index.
      sql.push(clusterOnePartition(part, ns, idx));
      feature('CLUSTER mark on one partition');
    } else if (idx) {
      sql.push(`ALTER TABLE ${T} CLUSTER ON ${qi(idx)};`);
      feature('CLUSTER mark');
    }
  }
}
