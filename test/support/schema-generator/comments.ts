/**
 * Comments on everything: the table and its columns, the comments the other parts collected, and
 * whatever PostgreSQL named itself.
 */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { notClonedTriggers, partitionTreeOf } from './partition-dependents.js';
import type { Partitioning } from './partitioning.js';
import { qi } from './quote.js';

export function addComments(g: Gen, { T, tLit }: Target, { keyCols }: Key, { columns }: Columns, part: Partitioning | null): void {
  const { sql, comments, comment, note, seed } = g;
  comment(`TABLE ${T}`, note('table'));
  for (const c of [...keyCols.map((k) => k.name), ...columns.map((c) => c.name)]) comment(`COLUMN ${T}.${qi(c)}`, note('column'));
  sql.push(...comments);
  // Whatever was named by PostgreSQL (the primary key and its index, identity and serial
  // sequences, NOT NULL constraints, constraint indexes; a partitioned table's in its
  // partitions too): commented by catalog lookup.
  const rels = partitionTreeOf(part, tLit);
  const clones = notClonedTriggers(part);
  sql.push(`DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT 'INDEX ' || i.indexrelid::regclass::text AS what FROM pg_index i
           WHERE i.indrelid ${rels} AND obj_description(i.indexrelid, 'pg_class') IS NULL
    UNION ALL SELECT format('CONSTRAINT %I ON %s', c.conname, c.conrelid::regclass::text) FROM pg_constraint c
           WHERE c.conrelid ${rels}${clones} AND obj_description(c.oid, 'pg_constraint') IS NULL
    UNION ALL SELECT 'SEQUENCE ' || s.oid::regclass::text FROM pg_class s JOIN pg_depend dep ON dep.objid = s.oid
           AND dep.classid = 'pg_class'::regclass AND dep.refobjid = ${tLit}::regclass AND dep.deptype IN ('a', 'i')
           WHERE s.relkind = 'S' AND obj_description(s.oid, 'pg_class') IS NULL
  LOOP
    EXECUTE format('COMMENT ON %s IS %L', r.what, 'auto comment on ' || r.what || ' (seed ${seed})');
  END LOOP;
END $$;`);
}
