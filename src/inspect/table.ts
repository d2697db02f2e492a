/**
 * Reads the catalog facts about one table (by OID) that planning and the swap need. Read-only.
 * Dependents are found through pg_depend, not from a list of kinds: anything rpcl does not
 * know how to carry across the swap is reported as unsupported.
 */
import type pg from 'pg';
import { readAcl } from './acl.js';
import { readPartition } from './partition.js';
import type {
  ColumnFact,
  ForeignKeyFact,
  IdentitySequenceFact,
  IndexFact,
  KeyFact,
  NotValidConstraintFact,
  PublicationFact,
  SequenceFact,
  TableFacts,
  ViewFact,
} from './facts.js';

export async function inspectTable(client: pg.Client, oid: number): Promise<TableFacts | null> {
  const base = await client.query(
    `SELECT c.oid::int8 AS oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text, c.relispartition,
            pg_get_userbyid(c.relowner) AS owner,
            pg_has_role(current_user, c.relowner, 'USAGE') AS can_act_as_owner,
            (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user) AS can_bypass_rls,
            ts.spcname AS tablespace, c.relfilenode::int8 AS relfilenode,
            coalesce(c.reloptions, '{}') AS reloptions,
            coalesce(t.reloptions, '{}') AS toast_reloptions,
            c.relreplident::text AS replident, c.relrowsecurity, c.relforcerowsecurity,
            obj_description(c.oid, 'pg_class') AS comment,
            greatest(c.reltuples, 0)::float8 AS reltuples,
            pg_total_relation_size(c.oid)::int8 AS total_bytes,
            ARRAY(SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid) AS inherits_from,
            ARRAY(SELECT i.inhrelid::regclass::text FROM pg_inherits i WHERE i.inhparent = c.oid) AS inherited_by
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
     LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
     WHERE c.oid = $1::oid`,
    [oid],
  );
  const r = base.rows[0];
  if (r === undefined) return null;
  // One session runs one query at a time: read in sequence.
  const columns = await readColumns(client, oid);
  const indexes = await readIndexes(client, oid);
  const notValid = await readNotValidConstraints(client, oid);
  const identitySequences = await readIdentitySequences(client, oid);
  const fks = await readForeignKeys(client, oid);
  const views = await readViews(client, oid);
  const publications = await readPublications(client, oid);
  const sequences = await readOwnedSequences(client, oid);
  const grants = await readAcl(client, oid);
  const unsupported = await readUnsupportedDependents(client, oid);
  const fingerprint = await readFingerprint(client, oid);
  const partition = r.relispartition ? await readPartition(client, oid) : null;
  return {
    oid: Number(r.oid),
    schema: r.nspname,
    name: r.relname,
    relkind: r.relkind,
    persistence: r.relpersistence,
    isPartition: r.relispartition,
    partition,
    inheritsFrom: r.inherits_from,
    inheritedBy: r.inherited_by,
    owner: r.owner,
    canActAsOwner: r.can_act_as_owner,
    canBypassRls: r.can_bypass_rls,
    tablespace: r.tablespace,
    relfilenode: Number(r.relfilenode),
    reloptions: r.reloptions,
    toastReloptions: r.toast_reloptions,
    replicaIdentity: r.replident,
    rowSecurity: r.relrowsecurity,
    forceRowSecurity: r.relforcerowsecurity,
    comment: r.comment,
    columns,
    key: chooseKey(indexes, columns),
    indexes,
    notValidConstraints: notValid,
    identitySequences,
    incomingForeignKeys: fks.filter((f) => f.referencedOid === oid),
    outgoingForeignKeys: fks.filter((f) => f.table.oid === oid),
    views,
    publications,
    ownedSequences: sequences,
    grants,
    unsupportedDependents: unsupported,
    estimatedRows: Number(r.reltuples),
    totalBytes: Number(r.total_bytes),
    fingerprint,
  };
}

async function readColumns(client: pg.Client, oid: number): Promise<ColumnFact[]> {
  const { rows } = await client.query(
    `SELECT a.attname, a.attnum::int, format_type(a.atttypid, a.atttypmod) AS type,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN cn.nspname END AS coll_schema,
            CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN co.collname END AS coll_name,
            a.attnotnull, a.attgenerated::text, a.attidentity::text,
            nullif(a.attstattarget, -1)::int AS stattarget, coalesce(a.attoptions, '{}') AS options,
            col_description(a.attrelid, a.attnum) AS comment
     FROM pg_attribute a
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_collation co ON co.oid = a.attcollation
     LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
     WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
     ORDER BY a.attnum`,
    [oid],
  );
  return rows.map((c) => ({
    name: c.attname,
    attnum: c.attnum,
    type: c.type,
    collation: c.coll_name ? { schema: c.coll_schema, name: c.coll_name } : null,
    notNull: c.attnotnull,
    generated: c.attgenerated as ColumnFact['generated'],
    identity: c.attidentity as ColumnFact['identity'],
    statisticsTarget: c.stattarget,
    options: c.options,
    comment: c.comment,
  }));
}

interface IndexRow extends IndexFact {
  isPrimary: boolean;
  isUniqueUsable: boolean;
  keyColumns: string[];
}

async function readIndexes(client: pg.Client, oid: number): Promise<IndexRow[]> {
  const { rows } = await client.query(
    `SELECT ic.oid::int8 AS oid, ic.relname, pg_get_indexdef(ic.oid) AS def, ts.spcname AS tablespace,
            i.indisunique,
            CASE WHEN starts_with(pg_get_indexdef(ic.oid), prefix.p || ' USING ')
                 THEN substr(pg_get_indexdef(ic.oid), length(prefix.p) + 1) END AS tail,
            i.indisprimary, i.indisclustered, i.indisreplident, i.indisvalid, pg_relation_size(ic.oid)::int8 AS bytes,
            (i.indisunique AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indisvalid
             -- replay matches keys with the column type's own = under the column's collation: the
             -- index must mean the same equality (default operator class, same collation)
             AND NOT EXISTS (
               SELECT 1 FROM unnest(i.indclass[0:i.indnkeyatts - 1]::oid[], i.indcollation[0:i.indnkeyatts - 1]::oid[],
                                    i.indkey[0:i.indnkeyatts - 1]::int2[]) k(opc, coll, attnum)
               JOIN pg_opclass o ON o.oid = k.opc
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE NOT o.opcdefault OR k.coll <> a.attcollation)) AS unique_usable,
            ARRAY(SELECT a.attname::text FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS key_columns,
            bool_and_notnull.all_not_null,
            con.conname, con.contype::text, pg_get_constraintdef(con.oid) AS condef, con.condeferrable, con.condeferred,
            obj_description(con.oid, 'pg_constraint') AS con_comment,
            obj_description(ic.oid, 'pg_class') AS comment,
            ARRAY(SELECT json_build_object('column', a.attnum, 'target', a.attstattarget) FROM pg_attribute a
                  WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0 ORDER BY a.attnum) AS stattargets
     FROM pg_index i
     JOIN pg_class ic ON ic.oid = i.indexrelid
     JOIN pg_class tc ON tc.oid = i.indrelid
     JOIN pg_namespace tn ON tn.oid = tc.relnamespace
     CROSS JOIN LATERAL (
       SELECT format('CREATE %sINDEX %s ON %s.%s', CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,
                     quote_ident(ic.relname), quote_ident(tn.nspname), quote_ident(tc.relname)) AS p
     ) prefix
     LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
     LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
     CROSS JOIN LATERAL (
       -- a NOT VALID NOT NULL constraint (PostgreSQL 18) sets attnotnull over rows that may be NULL
       SELECT coalesce(bool_and(a.attnotnull AND NOT EXISTS (
                SELECT 1 FROM pg_constraint nn WHERE nn.conrelid = a.attrelid AND nn.contype::text = 'n'
                  AND NOT nn.convalidated AND a.attnum = ANY (nn.conkey))), false) AS all_not_null
       FROM unnest(i.indkey[0:i.indnkeyatts - 1]) k(attnum)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     ) bool_and_notnull
     WHERE i.indrelid = $1::oid
     ORDER BY ic.relname`,
    [oid],
  );
  return rows.map((x) => ({
    oid: Number(x.oid),
    name: x.relname,
    definition: x.def,
    definitionTail: x.tail,
    unique: x.indisunique,
    tablespace: x.tablespace,
    constraint: x.conname
      ? {
          name: x.conname, type: x.contype, definition: x.condef, comment: x.con_comment,
          deferrable: x.condeferrable, deferred: x.condeferred,
        }
      : null,
    comment: x.comment,
    statisticsTargets: (x.stattargets as { column: number; target: number }[]),
    isClustered: x.indisclustered,
    isReplicaIdentity: x.indisreplident,
    valid: x.indisvalid,
    bytes: Number(x.bytes),
    isPrimary: x.indisprimary,
    isUniqueUsable: x.unique_usable && x.all_not_null && !(x.key_columns as string[]).includes(null as never),
    keyColumns: x.key_columns,
  }));
}

/** The primary key, else the first usable NOT NULL unique index (immediate, no predicate, no expression). */
function chooseKey(indexes: IndexRow[], _columns: ColumnFact[]): KeyFact | null {
  const pk = indexes.find((i) => i.isPrimary && i.isUniqueUsable);
  if (pk) return { kind: 'primary', indexName: pk.name, columns: pk.keyColumns };
  const uk = indexes.find((i) => i.isUniqueUsable);
  if (uk) return { kind: 'unique', indexName: uk.name, columns: uk.keyColumns };
  return null;
}

async function readForeignKeys(client: pg.Client, oid: number): Promise<ForeignKeyFact[]> {
  // Run with an empty search_path by the caller's session settings or not: the definition is
  // re-read with every name qualified so it can be replayed from any schema.
  const { rows } = await client.query(
    `SELECT con.conname, con.conrelid::int8 AS relid, n.nspname, c.relname, con.confrelid::int8 AS refid,
            rn.nspname AS ref_schema, rc.relname AS ref_name,
            pg_get_userbyid(c.relowner) AS table_owner, pg_has_role(current_user, c.relowner, 'USAGE') AS can_alter_table,
            has_table_privilege(con.confrelid, 'REFERENCES') AS can_reference,
            con.convalidated, obj_description(con.oid, 'pg_constraint') AS comment,
            pg_get_constraintdef(con.oid) AS def, c.relkind = 'p' AS partitioned
     FROM pg_constraint con
     JOIN pg_class c ON c.oid = con.conrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_class rc ON rc.oid = con.confrelid
     JOIN pg_namespace rn ON rn.oid = rc.relnamespace
     WHERE con.contype = 'f' AND (con.conrelid = $1::oid OR con.confrelid = $1::oid)
       -- a partition's clone of its parent's constraint goes and comes with the parent's
       AND con.conparentid = 0
     ORDER BY n.nspname, c.relname, con.conname`,
    [oid],
  );
  return rows.map((f) => ({
    name: f.conname,
    table: { oid: Number(f.relid), schema: f.nspname, name: f.relname },
    referencedOid: Number(f.refid),
    referenced: { oid: Number(f.refid), schema: f.ref_schema, name: f.ref_name },
    tableOwner: f.table_owner,
    canAlterTable: f.can_alter_table,
    canReference: f.can_reference,
    definition: f.def,
    validated: f.convalidated,
    comment: f.comment,
    tableIsPartitioned: f.partitioned,
  }));
}

async function readNotValidConstraints(client: pg.Client, oid: number): Promise<NotValidConstraintFact[]> {
  const { rows } = await client.query(
    `SELECT con.conname, pg_get_constraintdef(con.oid) AS def, obj_description(con.oid, 'pg_constraint') AS comment
     FROM pg_constraint con
     WHERE con.conrelid = $1::oid AND con.contype::text IN ('c', 'n') AND NOT con.convalidated
     ORDER BY con.conname`,
    [oid],
  );
  return rows.map((c) => ({ name: c.conname, definition: c.def, comment: c.comment }));
}

async function readIdentitySequences(client: pg.Client, oid: number): Promise<IdentitySequenceFact[]> {
  const { rows } = await client.query(
    `SELECT a.attname, format_type(s.seqtypid, NULL) AS type
     FROM pg_depend d
     JOIN pg_sequence s ON s.seqrelid = d.objid
     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i'
       AND d.refobjid = $1::oid
     ORDER BY a.attnum`,
    [oid],
  );
  return rows.map((r) => ({ column: r.attname, dataType: r.type }));
}

/**
 * Views and materialized views whose query reads the table directly. Views on those views
 * follow by name (a view is replaced in place); what depends on a materialized view does not
 * (it is re-created), so that is listed.
 */
async function readViews(client: pg.Client, oid: number): Promise<ViewFact[]> {
  const { rows } = await client.query(
    `SELECT DISTINCT v.oid::int8 AS oid, n.nspname, v.relname, pg_get_userbyid(v.relowner) AS owner,
            pg_has_role(current_user, v.relowner, 'USAGE') AS can_act, v.relkind = 'm' AS materialized,
            ARRAY(SELECT DISTINCT pg_describe_object(d2.classid, d2.objid, d2.objsubid)
                  FROM pg_depend d2 JOIN pg_rewrite r2 ON d2.classid = 'pg_rewrite'::regclass AND r2.oid = d2.objid
                  WHERE v.relkind = 'm' AND d2.refclassid = 'pg_class'::regclass AND d2.refobjid = v.oid AND r2.ev_class <> v.oid) AS mv_dependents
     FROM pg_depend d
     JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
     JOIN pg_class v ON v.oid = r.ev_class
     JOIN pg_namespace n ON n.oid = v.relnamespace
     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid AND v.oid <> $1::oid AND v.relkind IN ('v', 'm')
     ORDER BY 1`,
    [oid],
  );
  return rows.map((v) => ({
    oid: Number(v.oid), schema: v.nspname, name: v.relname, owner: v.owner, canActAsOwner: v.can_act,
    materialized: v.materialized, dependents: v.mv_dependents,
  }));
}

async function readPublications(client: pg.Client, oid: number): Promise<PublicationFact[]> {
  const { rows } = await client.query(
    `SELECT p.pubname, pg_get_userbyid(p.pubowner) AS owner, pg_has_role(current_user, p.pubowner, 'USAGE') AS can_act
     FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
     WHERE pr.prrelid = $1::oid ORDER BY 1`,
    [oid],
  );
  return rows.map((p) => ({ name: p.pubname, owner: p.owner, canActAsOwner: p.can_act }));
}

/** serial-style sequences owned by a column (identity sequences are the column's own). */
async function readOwnedSequences(client: pg.Client, oid: number): Promise<SequenceFact[]> {
  const { rows } = await client.query(
    `SELECT n.nspname, s.relname, a.attname
     FROM pg_depend d
     JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
     JOIN pg_namespace n ON n.oid = s.relnamespace
     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
       AND d.refobjid = $1::oid AND d.deptype = 'a'
     ORDER BY 1, 2`,
    [oid],
  );
  return rows.map((s) => ({ schema: s.nspname, name: s.relname, column: s.attname }));
}

/**
 * Everything that depends on the table or its row type, minus what the swap carries across:
 * its own columns' defaults, indexes, constraints, TOAST table, owned sequences, triggers
 * (rpcl's capture included), rules, policies, extended statistics, publication membership,
 * views and materialized views, and foreign keys.
 */
async function readUnsupportedDependents(client: pg.Client, oid: number): Promise<string[]> {
  const { rows } = await client.query(
    `WITH t AS (SELECT oid, reltype, reltoastrelid FROM pg_class WHERE oid = $1::oid),
     deps AS (
       SELECT d.classid, d.objid, d.objsubid, d.deptype
       FROM pg_depend d, t
       WHERE (d.refclassid = 'pg_class'::regclass AND d.refobjid = t.oid)
          OR (d.refclassid = 'pg_type'::regclass AND d.refobjid = t.reltype)
     )
     SELECT DISTINCT pg_describe_object(deps.classid, deps.objid, deps.objsubid) AS what
     FROM deps, t
     WHERE NOT (
          (deps.classid = 'pg_attrdef'::regclass)
       OR (deps.classid = 'pg_type'::regclass)
       OR (deps.classid = 'pg_class'::regclass AND deps.objid = t.reltoastrelid)
       -- a generated column depending on other columns of the same table (PostgreSQL 13)
       OR (deps.classid = 'pg_class'::regclass AND deps.objid = t.oid)
       OR (deps.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = deps.objid AND i.indrelid = t.oid))
       OR (deps.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_class s WHERE s.oid = deps.objid AND s.relkind = 'S'))
       OR (deps.classid = 'pg_constraint'::regclass AND EXISTS (
             SELECT 1 FROM pg_constraint c WHERE c.oid = deps.objid AND (c.conrelid = t.oid OR c.contype = 'f')))
       OR (deps.classid = 'pg_rewrite'::regclass AND EXISTS (
             SELECT 1 FROM pg_rewrite r JOIN pg_class v ON v.oid = r.ev_class
             WHERE r.oid = deps.objid AND v.relkind IN ('v', 'm') AND v.oid <> t.oid AND r.rulename = '_RETURN'))
       -- the table's own triggers (re-created by the swap), internal ones, and rpcl's capture
       OR (deps.classid = 'pg_trigger'::regclass AND EXISTS (
             SELECT 1 FROM pg_trigger tg WHERE tg.oid = deps.objid AND tg.tgrelid = t.oid))
       -- the table's own rules (re-created by the swap)
       OR (deps.classid = 'pg_rewrite'::regclass AND EXISTS (
             SELECT 1 FROM pg_rewrite r WHERE r.oid = deps.objid AND r.ev_class = t.oid AND r.rulename <> '_RETURN'))
       OR (deps.classid = 'pg_policy'::regclass AND EXISTS (
             SELECT 1 FROM pg_policy p WHERE p.oid = deps.objid AND p.polrelid = t.oid))
       OR (deps.classid = 'pg_publication_rel'::regclass)
       OR (deps.classid = 'pg_statistic_ext'::regclass AND EXISTS (
             SELECT 1 FROM pg_statistic_ext x WHERE x.oid = deps.objid AND x.stxrelid = t.oid))
     )
     ORDER BY 1`,
    [oid],
  );
  return rows.map((r) => r.what);
}

/**
 * A digest of everything that defines the table's rows and indexes. Computed at the start and
 * again under the swap lock: ALTER TABLE in between changes it; VACUUM FULL or CLUSTER change
 * relfilenode, compared separately. Built from raw catalog columns (OIDs and node trees), not
 * from pg_get_*def, whose output depends on the session's search_path.
 */
export async function readFingerprint(client: pg.Client, oid: number): Promise<string> {
  const { rows } = await client.query(
    `SELECT md5(concat_ws('|',
       (SELECT string_agg(concat_ws(',', a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attisdropped,
                         a.attgenerated, a.attidentity, a.attcollation, ad.adbin::text), ';' ORDER BY a.attnum)
        FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        WHERE a.attrelid = $1::oid AND a.attnum > 0),
       (SELECT string_agg(concat_ws(',', i.indexrelid, i.indkey::text, i.indclass::text, i.indisunique,
                         i.indexprs::text, i.indpred::text), ';' ORDER BY i.indexrelid)
        FROM pg_index i WHERE i.indrelid = $1::oid),
       (SELECT string_agg(concat_ws(',', c.oid, c.conname, c.contype, c.conkey::text, c.confkey::text,
                         c.confrelid, c.conbin::text, c.condeferrable, c.condeferred), ';' ORDER BY c.oid)
        FROM pg_constraint c WHERE c.conrelid = $1::oid),
       (SELECT string_agg(t.tgname, ';' ORDER BY t.oid) FROM pg_trigger t
        WHERE t.tgrelid = $1::oid AND NOT t.tgisinternal AND t.tgname NOT LIKE 'rpcl\\_capture\\_%'),
       (SELECT relkind::text || relpersistence::text || coalesce(array_to_string(reloptions, ','), '')
        FROM pg_class WHERE oid = $1::oid),
       -- a partition: its parent and bound; a default partition's constraint is every other
       -- partition's bound (a partition added elsewhere leaves other partitions' runs alone)
       (SELECT concat_ws(',', i.inhparent, c.relpartbound::text,
                 (SELECT string_agg(s.relpartbound::text, ';' ORDER BY s.oid) FROM pg_inherits si
                  JOIN pg_class s ON s.oid = si.inhrelid WHERE si.inhparent = i.inhparent AND pt.partdefid = c.oid))
        FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent
        WHERE c.oid = $1::oid)
     )) AS fp`,
    [oid],
  );
  return rows[0].fp;
}
