/**
 * What hangs off a partitioned table's partitions: what only one partition has (an index, a
 * trigger, a check), comments on each, the replica identity each needs of its own, the CLUSTER
 * mark a partitioned table cannot carry, and which constraints the comment lookup leaves alone.
 */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import type { Partitioning } from './partitioning.js';
import { qi, ql } from './quote.js';

/** What only one partition has: an index, a trigger, a check; comments on every partition. */
export function addPartitionExtras(g: Gen, { other }: Target, { keys }: Key, { v }: Columns, part: Partitioning): void {
  const { sql, comment, note, feature } = g;
  const { d, special } = part;
  if (d.chance(0.4)) {
    sql.push(`CREATE INDEX ${qi('one partition only')} ON ${special} (${v}, ${keys[0]}) WHERE ${v} < 500;`);
    feature('index on one partition');
  }
  if (d.chance(0.4)) {
    sql.push(`CREATE FUNCTION ${other}.partition_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${other}.audit (op, k) VALUES (TG_OP || ' ' || TG_TABLE_NAME, NEW.${keys[0]}::text); RETURN NULL; END $$;`);
    sql.push(`CREATE TRIGGER ${qi('partition audit')} AFTER INSERT OR UPDATE ON ${special} FOR EACH ROW EXECUTE FUNCTION ${other}.partition_audit();`);
    comment(`TRIGGER ${qi('partition audit')} ON ${special}`, note('trigger on one partition'));
    feature('trigger on one partition');
  }
  if (d.chance(0.3)) {
    sql.push(`ALTER TABLE ${special} ADD CONSTRAINT ${qi('partition check')} CHECK (${v} < 100000000);`);
    feature('check on one partition');
  }
  for (const p of [...part.middles, ...part.leaves]) comment(`TABLE ${p}`, note('partition'));
}

/** The DO block's relations to comment automatically: the table, and its partitions. */
export function partitionTreeOf(part: Partitioning | null, tLit: string): string {
  return part === null ? `= ${tLit}::regclass` : `IN (SELECT relid FROM pg_partition_tree(${tLit}))`;
}

/** Sets the replica identity of every partition like the table's (it is not inherited). */
export function partitionsReplicaIdentity(part: Partitioning, ns: string, index: string | null): string {
  const tree = part.leaves.concat(part.middles).map(ql).join(', ');
  return index === null
    ? `DO $$ DECLARE t text; BEGIN FOREACH t IN ARRAY ARRAY[${tree}] LOOP EXECUTE format('ALTER TABLE %s REPLICA IDENTITY FULL', t); END LOOP; END $$;`
    : `DO $$ DECLARE r record; BEGIN
  FOR r IN SELECT x.indrelid::regclass::text AS t, c.relname FROM pg_partition_tree(${ql(`${ns}.${qi(index)}`)}) p
           JOIN pg_index x ON x.indexrelid = p.relid JOIN pg_class c ON c.oid = p.relid WHERE p.level > 0
  LOOP EXECUTE format('ALTER TABLE %s REPLICA IDENTITY USING INDEX %I', r.t, r.relname); END LOOP;
END $$;`;
}

/** Marks the special leaf's index attached to `index` (an index of the table) for CLUSTER. */
export function clusterOnePartition(part: Partitioning, ns: string, index: string): string {
  return `DO $$ DECLARE i name; BEGIN
  SELECT c.relname INTO STRICT i FROM pg_partition_tree(${ql(`${ns}.${qi(index)}`)}) p JOIN pg_index x ON x.indexrelid = p.relid
    JOIN pg_class c ON c.oid = p.relid WHERE x.indrelid = ${ql(part.special)}::regclass;
  EXECUTE format('ALTER TABLE %s CLUSTER ON %I', ${ql(part.special)}, i);
END $$;`;
}

/**
 * For the comment lookup: not the partitions' clones of constraint triggers (ATTACH makes those
 * anew, and pg_dump does not keep their comments either).
 */
export function notClonedTriggers(part: Partitioning | null): string {
  return part ? ` AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgconstraint = c.oid AND t.tgparentid <> 0)` : '';
}
