/** What a run may leave behind in a database: the oracle for "no leftovers". */
import type pg from 'pg';

async function snapshot(sql: pg.Client): Promise<string[]> {
  const { rows } = await sql.query<{ what: string }>(`
    SELECT 'trigger ' || tgname AS what FROM pg_trigger WHERE tgname LIKE 'rpcl%'
    UNION ALL SELECT 'relation rpcl.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'rpcl' AND c.relname NOT IN ('runs', 'schema_version', 'runs_pkey', 'runs_table_oid_idx', 'runs_run_id_seq',
        'index_runs', 'index_runs_pkey', 'index_runs_table_oid_idx', 'index_runs_index_run_id_seq')
    UNION ALL SELECT 'constraint ' || conname || ' on ' || conrelid::regclass::text FROM pg_constraint con
      JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE con.conname LIKE 'rpcl%' AND n.nspname <> 'rpcl'
    -- repack_indexes: what a failed or killed REINDEX INDEX CONCURRENTLY leaves (INVALID _ccnew/_ccold indexes)
    UNION ALL SELECT 'invalid index ' || i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$'
    UNION ALL SELECT 'function rpcl.' || proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'rpcl'
    UNION ALL SELECT 'advisory lock ' || objid FROM pg_locks WHERE locktype = 'advisory' AND classid = 1919970403
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
    UNION ALL SELECT 'session ' || application_name FROM pg_stat_activity
      WHERE application_name LIKE 'rpcl%' AND datname = current_database()
    ORDER BY 1`);
  return rows.map((r) => r.what);
}

/**
 * A backend ends a moment after its client disconnects, so sessions and their advisory locks
 * get two seconds to go away; catalog objects must be gone at once.
 */
export async function rpclLeftovers(sql: pg.Client): Promise<string[]> {
  let found = await snapshot(sql);
  for (let i = 0; i < 40 && found.some((f) => f.startsWith('session ') || f.startsWith('advisory lock ')); i++) {
    await new Promise((r) => setTimeout(r, 50));
    found = await snapshot(sql);
  }
  return found;
}
