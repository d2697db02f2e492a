-- Helper schema version 3 (rpcl 0.3): partitions. A run on a leaf partition of a partitioned
-- table records which one it is and how many of the table's partitions the run takes in turn,
-- so that `status` can say which leaf is in progress and how many remain.
ALTER TABLE rpcl.runs
  ADD COLUMN IF NOT EXISTS partition_of text,
  ADD COLUMN IF NOT EXISTS partition_number integer,
  ADD COLUMN IF NOT EXISTS partitions_in_run integer;
