/**
 * Facts about a table's place in a partitioned table, read from the catalog. The swap of a
 * partition detaches the old one and attaches the copy with the same bound, so it needs the
 * parent, the bound, and the partition constraint the copy must be proven to satisfy.
 */
import type pg from 'pg';
import type { PartitionFact } from './facts.js';

export async function readPartition(client: pg.Client, oid: number): Promise<PartitionFact | null> {
  // pg_get_partition_constraintdef names what it needs qualified only when search_path does
  // not find it: with pg_catalog alone, the text means the same from any session.
  const saved = await client.query<{ path: string }>(`SELECT current_setting('search_path') AS path`);
  await client.query(`SELECT set_config('search_path', 'pg_catalog, pg_temp', false)`);
  try {
    const { rows } = await client.query(
      `SELECT p.oid::int8 AS parent_oid, pn.nspname AS parent_schema, p.relname AS parent_name,
              pg_get_userbyid(p.relowner) AS parent_owner, pg_has_role(current_user, p.relowner, 'USAGE') AS can_act,
              pg_get_expr(c.relpartbound, c.oid) AS bound, pg_get_partition_constraintdef(c.oid) AS constraint_def,
              pt.partdefid = c.oid AS is_default,
              d.oid::int8 AS default_oid, dn.nspname AS default_schema, d.relname AS default_name
       FROM pg_class c
       JOIN pg_inherits i ON i.inhrelid = c.oid
       JOIN pg_class p ON p.oid = i.inhparent
       JOIN pg_namespace pn ON pn.oid = p.relnamespace
       JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
       LEFT JOIN pg_class d ON d.oid = pt.partdefid AND d.oid <> c.oid
       LEFT JOIN pg_namespace dn ON dn.oid = d.relnamespace
       WHERE c.oid = $1::oid AND c.relispartition`,
      [oid],
    );
    const r = rows[0];
    if (r === undefined) return null;
    // The parent, its parent, up to the root: foreign keys and hash partitioning of any of them count.
    const ancestors = await client.query<{ oid: string }>(
      `SELECT relid::int8 AS oid FROM pg_partition_ancestors($1::regclass) WHERE relid <> $1::regclass`,
      [oid],
    );
    const ancestorOids = ancestors.rows.map((a) => Number(a.oid));
    const fks = await client.query(
      `SELECT con.conname, n.nspname, c.relname, con.conrelid = ANY($1::oid[]) AS outgoing
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE con.contype = 'f' AND con.conparentid = 0 AND (con.conrelid = ANY($1::oid[]) OR con.confrelid = ANY($1::oid[]))
       ORDER BY 1, 2, 3`,
      [ancestorOids],
    );
    const fk = (f: { conname: string; nspname: string; relname: string }) => ({ name: f.conname, table: { schema: f.nspname, name: f.relname } });
    const exclusions = await client.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE conrelid = $1::oid AND contype = 'x' AND conparentid <> 0 ORDER BY 1`,
      [oid],
    );
    const hash = await client.query<{ found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_partitioned_table pt CROSS JOIN LATERAL unnest(pt.partcollation::oid[]) coll
                      WHERE pt.partrelid = ANY($1::oid[]) AND pt.partstrat = 'h' AND coll <> 0) AS found`,
      [ancestorOids],
    );
    const work = await client.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE conrelid = $1::oid AND starts_with(conname, 'rpcl_excl_') ORDER BY 1`,
      [oid],
    );
    return {
      workConstraints: work.rows.map((w) => w.conname),
      inheritedExclusionConstraints: exclusions.rows.map((x) => x.conname),
      hashOnCollatableKey: hash.rows[0]?.found ?? false,
      parent: { oid: Number(r.parent_oid), schema: r.parent_schema, name: r.parent_name },
      parentOwner: r.parent_owner,
      canActAsParentOwner: r.can_act,
      bound: r.bound,
      constraint: r.constraint_def,
      isDefault: r.is_default,
      defaultSibling: r.default_oid === null ? null : { oid: Number(r.default_oid), schema: r.default_schema, name: r.default_name },
      foreignKeysOfAncestors: fks.rows.filter((f) => f.outgoing).map(fk),
      foreignKeysToAncestors: fks.rows.filter((f) => !f.outgoing).map(fk),
    };
  } finally {
    await client.query(`SELECT set_config('search_path', $1, false)`, [saved.rows[0]?.path ?? '"$user", public']);
  }
}
