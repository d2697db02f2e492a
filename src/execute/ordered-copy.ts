/**
 * Progress of an ordered copy (table_options order_by or the CLUSTER index). It is one INSERT
 * ... SELECT ... ORDER BY: no statement boundary to count rows at. The control session reads the
 * copy's heap size instead (its pages are visible to other sessions as they are added, though
 * its rows are not) and turns it into rows with the size the live rows were expected to need.
 * The sort comes first and adds no page: progress stays at 0 until it is done, which is true.
 */
import { helperName } from '../plan/capture.js';
import { workNames } from '../plan/names.js';
import type { TableRun } from './context.js';

const EVERY_MS = 1000;

/**
 * Expected heap bytes of the copy: the old table's rows at their average width (pg_stats) plus
 * tuple header and line pointer, at the copy's fillfactor (the same estimate as the bloat order).
 */
const EXPECTED_SQL = `
SELECT ceil(greatest(c.reltuples, 1) * (coalesce((SELECT sum(s.avg_width) FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname), 0) + 28)
       / ((current_setting('block_size')::int - 24) * coalesce((SELECT substr(o, 12)::int FROM unnest(cc.reloptions) o WHERE o LIKE 'fillfactor=%'), 100) / 100.0)
       ) * current_setting('block_size')::int AS bytes
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, pg_class cc
WHERE c.oid = $1::oid AND cc.oid = $2::regclass`;

export function watchOrderedCopy(run: TableRun, estimate: number): { stop: () => Promise<void> } {
  const copy = helperName(workNames.copyTable(run.facts.oid));
  let expected: number | null = null;
  let busy: Promise<void> = Promise.resolve();
  const tick = async () => {
    try {
      if (expected === null) expected = Number((await run.control.query(EXPECTED_SQL, [run.facts.oid, copy])).rows[0]?.bytes ?? 0);
      const bytes = Number((await run.control.query(`SELECT pg_relation_size($1::regclass)::int8 AS b`, [copy])).rows[0].b);
      // Never 100% before the statement ends: the estimate may be short.
      const rows = expected > 0 ? Math.min(Math.round(estimate * (bytes / expected)), Math.max(0, estimate - 1)) : 0;
      run.emit({ type: 'copy-progress', ref: run.ref, rowsCopied: rows, rowsEstimate: estimate });
    } catch (err) {
      run.log.debug(`ordered copy progress not read: ${(err as Error).message}`, run.ref);
    }
  };
  const timer = setInterval(() => {
    busy = busy.then(tick);
  }, EVERY_MS);
  return {
    stop: async () => {
      clearInterval(timer);
      await busy;
    },
  };
}
