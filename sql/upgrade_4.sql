-- Helper schema version 4 (rpcl 0.4): index-only repacks (repack_indexes). One row per index
-- rebuild, written BEFORE its REINDEX INDEX CONCURRENTLY starts: a rebuild that fails, is
-- cancelled, or whose rpcl dies (even by SIGKILL) leaves INVALID indexes behind (<name>_ccnew,
-- _ccnew1, ... before the swap phase; the old index renamed <name>_ccold after it). This row is
-- how rpcl later tells ITS leftovers from an invalid index a user made: only indexes on
-- table_oid that are not in existing_index_oids (the table's indexes before the rebuild) and
-- carry PostgreSQL's _ccnew name, or index_oid itself renamed _ccold, are ever dropped.
CREATE TABLE IF NOT EXISTS rpcl.index_runs (
  index_run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_oid oid NOT NULL,
  index_oid oid NOT NULL,
  schema_name name NOT NULL,
  table_name name NOT NULL,
  index_name name NOT NULL,
  existing_index_oids oid[] NOT NULL,
  config_name text,
  connection_name text,
  status text NOT NULL DEFAULT 'running'
    CHECK (status IN ('running', 'done', 'failed', 'stopped')),
  -- Set once no leftover of this rebuild is left (checked, not assumed): such rows are history.
  leftovers_removed boolean NOT NULL DEFAULT false,
  attempts integer NOT NULL DEFAULT 0,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  ended_at timestamptz,
  size_before bigint,
  size_after bigint,
  runner_pid integer NOT NULL,
  runner_host text NOT NULL,
  -- The session that runs the REINDEX; it also holds the table's advisory lock, so a run whose
  -- lock is free has ended (its backend is gone or has finished the statement).
  runner_backend_pid integer NOT NULL DEFAULT pg_backend_pid(),
  last_error text
);

CREATE INDEX IF NOT EXISTS index_runs_table_oid_idx ON rpcl.index_runs (table_oid, index_run_id);
