-- Helper schema version 2 (rpcl 0.2): throttling and pause/resume of the copy and replay.
ALTER TABLE rpcl.runs
  -- Set by `rpcl pause_repack` from any host, cleared by `rpcl resume_repack`; the run reads it
  -- between two chunks or replay batches.
  ADD COLUMN IF NOT EXISTS pause_requested boolean NOT NULL DEFAULT false,
  -- What holds the run back right now (a pause, max_wal_rate, max_replica_lag, sleep_ratio), or NULL.
  ADD COLUMN IF NOT EXISTS throttle text;
