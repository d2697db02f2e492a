-- rpcl's helper schema. $1 (the marker comment) is set by the installer after this script.
-- Run inside one transaction: either everything exists afterwards or nothing does.

CREATE SCHEMA rpcl;

CREATE TABLE rpcl.schema_version (
  version integer NOT NULL,
  installed_at timestamptz NOT NULL DEFAULT now(),
  installed_by name NOT NULL DEFAULT current_user
);

-- One row per table run. Written by the run's own session as it goes, so that `status`
-- from another terminal or host sees phase and progress, and a later run can tell a
-- finished run from one that died (its advisory lock is then gone too).
CREATE TABLE rpcl.runs (
  run_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  table_oid oid NOT NULL,
  schema_name name NOT NULL,
  table_name name NOT NULL,
  config_name text,
  connection_name text,
  phase text NOT NULL DEFAULT 'queued',
  status text NOT NULL DEFAULT 'running'
    CHECK (status IN ('running', 'prepared', 'done', 'failed', 'aborted', 'stopped')),
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  phase_started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  ended_at timestamptz,
  size_before bigint,
  size_after bigint,
  rows_estimate bigint,
  rows_copied bigint,
  backlog bigint,
  change_rate double precision,
  replay_rate double precision,
  predicted_swap_ms double precision,
  copy_oid oid,
  log_oid oid,
  -- The table as the run found it: a prepared copy is only resumed if both still match.
  fingerprint text,
  relfilenode oid,
  runner_pid integer NOT NULL,
  runner_host text NOT NULL,
  runner_backend_pid integer NOT NULL DEFAULT pg_backend_pid(),
  -- Foreign keys the swap re-created NOT VALID that were valid before: written in the swap
  -- transaction, cleared once validated, so a run that dies in between is completed later.
  pending_validations text[] NOT NULL DEFAULT '{}',
  last_error text
);

CREATE INDEX runs_table_oid_idx ON rpcl.runs (table_oid, run_id);

-- Work tables are only ever touched by rpcl's own sessions.
REVOKE ALL ON SCHEMA rpcl FROM PUBLIC;
