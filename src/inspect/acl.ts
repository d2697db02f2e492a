/**
 * A relation's access control list exactly as stored: every item in array order, with its
 * grantor, the owner's own item included, and whether the list is NULL (the default, the
 * owner holding everything) or explicit. Column lists likewise. The swap rebuilds it item by
 * item on the new relation, so privileges revoked from the owner stay revoked and grants made
 * by a grantee stay attributed to it.
 */
import type pg from 'pg';

export interface AclItem {
  /** null = PUBLIC */
  grantee: string | null;
  grantor: string;
  privilege: string;
  grantable: boolean;
}

export interface ObjectAcl {
  /** null: the relation has the default privileges (relacl IS NULL). */
  items: AclItem[] | null;
  columns: { column: string; items: AclItem[] }[];
  /** Grantors other than the owner, and whether the connected role can act as them. */
  otherGrantors: { name: string; canActAs: boolean }[];
}

const ITEM = `CASE WHEN x.grantee = 0 THEN NULL ELSE pg_get_userbyid(x.grantee) END AS grantee,
  pg_get_userbyid(x.grantor) AS grantor, x.privilege_type, x.is_grantable,
  pg_has_role(current_user, x.grantor, 'MEMBER') AS can_act_as_grantor`;

export async function readAcl(client: pg.Client, oid: number): Promise<ObjectAcl> {
  const table = await client.query(
    `SELECT c.relacl IS NULL AS is_null, pg_get_userbyid(c.relowner) AS owner FROM pg_class c WHERE c.oid = $1::oid`,
    [oid],
  );
  const items = await client.query(
    `SELECT ${ITEM} FROM pg_class c, aclexplode(c.relacl) WITH ORDINALITY x(grantor, grantee, privilege_type, is_grantable, n)
     WHERE c.oid = $1::oid ORDER BY x.n`,
    [oid],
  );
  const columns = await client.query(
    `SELECT a.attname, ${ITEM} FROM pg_attribute a, aclexplode(a.attacl) WITH ORDINALITY x(grantor, grantee, privilege_type, is_grantable, n)
     WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum, x.n`,
    [oid],
  );
  const item = (r: Record<string, unknown>): AclItem => ({
    grantee: r.grantee as string | null, grantor: r.grantor as string, privilege: r.privilege_type as string, grantable: r.is_grantable as boolean,
  });
  const byColumn = new Map<string, AclItem[]>();
  for (const r of columns.rows) byColumn.set(r.attname, [...(byColumn.get(r.attname) ?? []), item(r)]);
  const owner: string = table.rows[0]?.owner;
  const others = new Map<string, boolean>();
  for (const r of [...items.rows, ...columns.rows]) if (r.grantor !== owner) others.set(r.grantor, r.can_act_as_grantor);
  return {
    items: table.rows[0]?.is_null ? null : items.rows.map(item),
    columns: [...byColumn.entries()].map(([column, list]) => ({ column, items: list })),
    otherGrantors: [...others.entries()].map(([name, canActAs]) => ({ name, canActAs })),
  };
}
