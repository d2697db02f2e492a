/** What a run may leave behind: the oracle for "no leftovers". */
import type pg from 'pg';

export async function rpclLeftovers(sql: pg.Client): Promise<string[]> {
  const { rows } = await sql.query<{ what: string }>(`
    SELECT 'trigger ' || tgname AS what FROM pg_trigger WHERE tgname LIKE 'rpcl%'
    UNION ALL SELECT 'relation rpcl.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'rpcl' AND c.relname NOT IN ('runs', 'schema_version', 'runs_pkey', 'runs_table_oid_idx', 'runs_run_id_seq')
    UNION ALL SELECT 'function rpcl.' || proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'rpcl'
    UNION ALL SELECT 'advisory lock ' || objid FROM pg_locks WHERE locktype = 'advisory' AND classid = 1919970403
    UNION ALL SELECT 'session ' || application_name FROM pg_stat_activity WHERE application_name LIKE 'rpcl%'
    ORDER BY 1`);
  return rows.map((r) => r.what);
}
