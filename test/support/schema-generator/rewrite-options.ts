/**
 * table_options for the run (issue 13): one plain table in three gets a fillfactor and a
 * storage parameter to rewrite with, and in a snapshot copy an order for its rows. The same
 * parameters are set on the table before the "before" snapshots are taken, so the run must
 * leave pg_dump and the catalog exactly as they were: what was asked for is kept, nothing else
 * changes. Drawn from a stream of their own, so that every other draw of a seed is as it was.
 */
import fc from 'fast-check';
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import { Draw } from './draw.js';
import type { Partitioning } from './partitioning.js';
import type { Target } from './names.js';

export interface RewriteOptions {
  /** Run on the table before the snapshots: the parameters the run is asked to write. */
  before: string[];
  /** The table_options section's keys (TOML lines). */
  keys: string[];
  /** An order_by line for a snapshot copy (a chunked copy refuses an order other than the key's). */
  orderBy: string;
}

function optionDraws(seed: number): Draw {
  const [gen] = fc.sample(fc.gen(), { seed: (seed * 104_729 + 0x0b1e) | 0, numRuns: 1 });
  if (gen === undefined) throw new Error('fast-check gave no generator');
  return new Draw(gen);
}

export function drawRewriteOptions(g: Gen, { T }: Target, { vName }: Columns, part: Partitioning | null): RewriteOptions | null {
  const d = optionDraws(g.seed);
  if (part || !d.chance(0.35)) return null;
  const fillfactor = d.pick([50, 70, 90]);
  const scale = d.pick(['0.02', '0.1']);
  g.feature('table_options (fillfactor, storage parameter, order)');
  const direction = d.pick(['', ' DESC', ' DESC NULLS LAST', ' NULLS FIRST']);
  return {
    before: [`ALTER TABLE ${T} SET (fillfactor = ${fillfactor}, autovacuum_vacuum_scale_factor = ${scale})`],
    keys: [`fillfactor = ${fillfactor}`, `storage_parameters = { autovacuum_vacuum_scale_factor = ${scale} }`],
    orderBy: `order_by = [${JSON.stringify(`${quoteForOrder(vName)}${direction}`)}]`,
  };
}

/** order_by takes column names as they are written in SQL: a mixed-case one in double quotes. */
function quoteForOrder(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}
