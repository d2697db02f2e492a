/**
 * Per-table advisory locks (two-int4 form): class = "rpcl" in ASCII, object = the table OID.
 * Held by a run's control session for the whole run: a second run on the same table is
 * refused, and a run whose lock is gone has died (its session ended), even on another host.
 */
export const ADVISORY_CLASS = 0x72706c63;

/** pg's int4 is signed; OIDs are unsigned 32-bit. */
export function advisoryObjectKey(tableOid: number): number {
  return tableOid | 0;
}

/** Table OIDs whose rpcl advisory lock is held by some live session in this database. */
export const liveRunLocksSql = `
SELECT (l.objid::bigint) AS table_oid, l.pid
FROM pg_locks l
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::bigint::oid AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
