/**
 * Read-only facts about the indexes repack_indexes may rebuild: the selected tables' indexes,
 * and the indexes a user names (`indexes` key, `--index`). A partitioned index (relkind I)
 * stands for its leaf indexes, as a partitioned table stands for its leaves.
 */
import type pg from 'pg';
import type { QualifiedName } from '../db/ident.js';

export interface IndexFacts {
  oid: number;
  schema: string;
  name: string;
  tableOid: number;
  tableSchema: string;
  tableName: string;
  /** pg_relation_size of the index. */
  bytes: number;
  /** pg_index.indisvalid: an INVALID index is a failed CREATE INDEX CONCURRENTLY or REINDEX. */
  valid: boolean;
  /** It backs an exclusion constraint. */
  exclusion: boolean;
  /** relkind I: an index of a partitioned table (holds no data of its own). */
  partitioned: boolean;
  /** The table's owner: REINDEX needs it (or MAINTAIN from 17 on). */
  owner: string;
  canActAsOwner: boolean;
  /** An rpcl work table or an index in a system schema: never rebuilt. */
  system: boolean;
}

const INDEX_SQL = `
SELECT i.indexrelid::int8 AS oid, n.nspname, c.relname, t.oid::int8 AS table_oid, tn.nspname AS table_schema,
       t.relname AS table_name, pg_relation_size(i.indexrelid)::int8 AS bytes, i.indisvalid AS valid,
       EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype = 'x') AS exclusion,
       c.relkind = 'I' AS partitioned, pg_get_userbyid(t.relowner) AS owner,
       pg_has_role(current_user, t.relowner, 'USAGE') AS can_act_as_owner,
       (tn.nspname IN ('pg_catalog', 'information_schema', $2) OR tn.nspname ~ '^pg_(toast|temp)') AS system
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace`;

function toFacts(r: Record<string, unknown>): IndexFacts {
  return {
    oid: Number(r.oid),
    schema: r.nspname as string,
    name: r.relname as string,
    tableOid: Number(r.table_oid),
    tableSchema: r.table_schema as string,
    tableName: r.table_name as string,
    bytes: Number(r.bytes),
    valid: r.valid as boolean,
    exclusion: r.exclusion as boolean,
    partitioned: r.partitioned as boolean,
    owner: r.owner as string,
    canActAsOwner: r.can_act_as_owner as boolean,
    system: r.system as boolean,
  };
}

/** Every index of the given tables, largest first. */
export async function indexesOfTables(client: pg.Client, tableOids: number[], helperSchema: string): Promise<IndexFacts[]> {
  const { rows } = await client.query(`${INDEX_SQL} WHERE i.indrelid = ANY($1::oid[]) ORDER BY bytes DESC, oid`, [tableOids, helperSchema]);
  return rows.map(toFacts);
}

/** One index's facts now, or null when it no longer exists. */
export async function indexFacts(client: pg.Client, oid: number, helperSchema: string): Promise<IndexFacts | null> {
  const { rows } = await client.query(`${INDEX_SQL} WHERE i.indexrelid = $1::oid`, [oid, helperSchema]);
  return rows[0] ? toFacts(rows[0]) : null;
}

export type ResolvedName =
  | { name: QualifiedName; oids: number[] }
  /** Not an index: what it is instead (a table, nothing), for the message. */
  | { name: QualifiedName; missing: string };

/**
 * The indexes a user named, by OID. A partitioned index resolves to its leaf indexes (the ones
 * that hold data); anything else than an index is reported as missing with what it is.
 */
export async function resolveIndexNames(client: pg.Client, names: QualifiedName[]): Promise<ResolvedName[]> {
  const out: ResolvedName[] = [];
  for (const name of names) {
    const { rows } = await client.query<{ oid: string; relkind: string }>(
      `SELECT c.oid::int8 AS oid, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2`,
      [name.schema, name.name],
    );
    const row = rows[0];
    if (row === undefined) {
      out.push({ name, missing: 'no such index' });
    } else if (row.relkind === 'i') {
      out.push({ name, oids: [Number(row.oid)] });
    } else if (row.relkind === 'I') {
      const leaves = await client.query<{ oid: string }>(
        `SELECT t.relid::int8 AS oid FROM pg_partition_tree($1::oid) t WHERE t.isleaf ORDER BY 1`,
        [row.oid],
      );
      out.push({ name, oids: leaves.rows.map((r) => Number(r.oid)) });
    } else {
      out.push({ name, missing: 'it is not an index (it is a table, view or sequence)' });
    }
  }
  return out;
}
