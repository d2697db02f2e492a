/**
 * What the server says about a table's table_options entry (issue 13), read before any work:
 * the CLUSTER index's order, the requested tablespace (exists, may this role create in it) and
 * whether the requested storage parameters are valid. Nothing is left changed: the storage
 * parameters are tried on a temporary table in a transaction that is rolled back.
 */
import type pg from 'pg';
import type { OrderItem, StorageParameter, TableOptions } from '../config/table-options.js';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/ident.js';

export interface ClusterOrder {
  index: string;
  /** The index's columns in order, or why they cannot be used as a plain ORDER BY. */
  items: OrderItem[] | { unusable: string };
}

export interface TablespaceFact {
  name: string;
  exists: boolean;
  /** CREATE on it, or it is the database's default (which needs no privilege). */
  canCreate: boolean;
  isDatabaseDefault: boolean;
}

export interface OptionFacts {
  cluster: ClusterOrder | null;
  tablespace: TablespaceFact | null;
  /** The server's own message for invalid storage parameters, or null. */
  storageProblem: string | null;
  /** The server's message when the rows cannot be sorted by order_by (a type without ordering, such as json), or null. */
  orderProblem?: string | null;
}

/** Storage parameter checks made beforehand (see checkStorageOf), by entry. */
export type StorageChecks = ReadonlyMap<TableOptions, string | null>;

/**
 * `checked`: the storage parameters' checks made earlier, outside the caller's transaction (the
 * dry run reads in a READ ONLY transaction, where no table may be created, not even a temporary
 * one); given, the session is in that transaction. Without it, the session must be outside a
 * transaction block.
 */
export async function readOptionFacts(
  client: pg.Client, table: { oid: number; schema: string; name: string; columns: { name: string }[] },
  entry: TableOptions | undefined, checked?: StorageChecks,
): Promise<OptionFacts> {
  let storageProblem: string | null = null;
  if (entry && entry.storageParameters.length > 0) {
    const before = checked?.get(entry);
    storageProblem = before !== undefined ? before : await checkStorageParameters(client, entry.storageParameters);
  }
  const order = entry?.orderBy ?? [];
  // Unknown columns are the planner's to report (resolveTableOptions), in its own words.
  const known = order.length > 0 && order.every((o) => table.columns.some((c) => c.name === o.column));
  return {
    cluster: await readClusterOrder(client, table.oid),
    tablespace: entry?.tablespace !== undefined ? await readTablespace(client, entry.tablespace) : null,
    storageProblem,
    orderProblem: known ? await checkOrderable(client, table, order, checked !== undefined) : null,
  };
}

/**
 * Whether the server can sort the table's rows this way (every type has no ordering: json,
 * point, xml): EXPLAIN parses and plans the ORDER BY without reading a row, under the ACCESS
 * SHARE lock any query takes. Inside a transaction, in a savepoint, as an error would end it.
 */
export async function checkOrderable(
  client: pg.Client, table: { schema: string; name: string }, order: OrderItem[], inTransaction: boolean,
): Promise<string | null> {
  const by = order.map((o) => `${quoteIdent(o.column)}${o.descending ? ' DESC' : ''}${o.nulls ? ` NULLS ${o.nulls.toUpperCase()}` : ''}`);
  if (inTransaction) await client.query('SAVEPOINT rpcl_check_order');
  try {
    await client.query(`EXPLAIN (COSTS OFF) SELECT 1 FROM ONLY ${quoteQualified(table)} ORDER BY ${by.join(', ')}`);
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    if (inTransaction) await client.query('ROLLBACK TO SAVEPOINT rpcl_check_order; RELEASE SAVEPOINT rpcl_check_order');
  }
}

/** Every entry's storage parameters checked; the session must be outside a transaction block. */
export async function checkStorageOf(client: pg.Client, entries: readonly TableOptions[]): Promise<StorageChecks> {
  const out = new Map<TableOptions, string | null>();
  for (const e of entries) {
    if (e.storageParameters.length > 0) out.set(e, await checkStorageParameters(client, e.storageParameters));
  }
  return out;
}

/**
 * A btree CLUSTER index on plain columns, with each column's default operator class and
 * collation, gives the same order as ORDER BY on those columns. Anything else (expressions,
 * another access method, another collation or operator class) would not: the copy is then not
 * ordered unless order_by says how, which the caller reports.
 */
export async function readClusterOrder(client: pg.Client, oid: number): Promise<ClusterOrder | null> {
  const { rows } = await client.query(
    `SELECT ic.relname AS index, am.amname AS method, k.n::int AS n, a.attname, (x.indoption[k.n - 1] & 1) = 1 AS descending,
            (x.indoption[k.n - 1] & 2) = 2 AS nulls_first,
            x.indcollation[k.n - 1] IN (0, a.attcollation) AS same_collation,
            coalesce((SELECT o.opcdefault AND (o.opcintype = a.atttypid OR EXISTS (
                        SELECT 1 FROM pg_cast c WHERE c.castsource = a.atttypid AND c.casttarget = o.opcintype AND c.castmethod = 'b'))
                      FROM pg_opclass o WHERE o.oid = x.indclass[k.n - 1]), false) AS default_opclass,
            x.indexprs IS NOT NULL AS has_expressions
     FROM pg_index x
     JOIN pg_class ic ON ic.oid = x.indexrelid
     JOIN pg_am am ON am.oid = ic.relam
     CROSS JOIN LATERAL generate_series(1, x.indnkeyatts) AS k(n)
     LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[k.n - 1] AND x.indkey[k.n - 1] <> 0
     WHERE x.indrelid = $1::oid AND x.indisclustered
     ORDER BY k.n`,
    [oid],
  );
  if (rows.length === 0) return null;
  const index = rows[0].index as string;
  if (rows[0].method !== 'btree') return { index, items: { unusable: `it is a ${rows[0].method} index, which has no order` } };
  if (rows.some((r) => r.attname === null) || rows[0].has_expressions) return { index, items: { unusable: 'it indexes expressions' } };
  if (rows.some((r) => !r.same_collation || !r.default_opclass)) {
    return { index, items: { unusable: 'a column of it uses another collation or operator class than the column\'s' } };
  }
  return {
    index,
    items: rows.map((r) => ({
      column: r.attname,
      descending: r.descending,
      // Only when it differs from the direction's default, so the ORDER BY reads as the index does.
      nulls: r.nulls_first === r.descending ? null : r.nulls_first ? 'first' : 'last',
    })),
  };
}

export async function readTablespace(client: pg.Client, name: string): Promise<TablespaceFact> {
  const { rows } = await client.query(
    `SELECT t.oid = d.dattablespace AS is_default,
            t.oid = d.dattablespace OR has_tablespace_privilege(t.oid, 'CREATE') AS can_create
     FROM pg_tablespace t, pg_database d WHERE t.spcname = $1 AND d.datname = current_database()`,
    [name],
  );
  const r = rows[0];
  return { name, exists: r !== undefined, canCreate: r?.can_create === true, isDatabaseDefault: r?.is_default === true };
}

/**
 * The server validates storage parameters when a table is created with them: a temporary table
 * with a text column (so it has a TOAST table for toast.* parameters) in a transaction that is
 * rolled back. Returns the server's message when they are invalid.
 */
export async function checkStorageParameters(client: pg.Client, params: StorageParameter[]): Promise<string | null> {
  await client.query('BEGIN');
  try {
    await client.query(`CREATE TEMPORARY TABLE rpcl_check_storage (c text) WITH (${storageItems(params).join(', ')})`);
    return null;
  } catch (err) {
    // Without TEMPORARY on the database the check itself cannot run: said as such, not as bad parameters.
    if ((err as { code?: string }).code === '42501') return `${UNCHECKED}${(err as Error).message}`;
    return (err as Error).message;
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Prefix of a storageProblem that says the check could not run (no TEMPORARY privilege). */
export const UNCHECKED = 'cannot be checked: ';

/** `name = 'value'` items; the name is a checked word, quoted like reloptionItems does. */
export function storageItems(params: StorageParameter[]): string[] {
  return params.map((p) => {
    const dot = p.name.startsWith('toast.') ? 'toast.' : '';
    return `${dot}${quoteIdent(p.name.slice(dot.length))} = ${quoteLiteral(p.value)}`;
  });
}
