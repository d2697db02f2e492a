/** Read-only facts about rpcl's helper schema and what it left on user tables. */
import type pg from 'pg';
import { ADVISORY_CLASS, liveRunLocksSql } from '../db/advisory.js';
import { displayIdent, quoteIdent } from '../db/ident.js';
import { HELPER_SCHEMA, HELPER_SCHEMA_MARKER } from '../plan/names.js';

export type HelperSchemaState =
  | { kind: 'absent' }
  | { kind: 'ours'; oid: number }
  /** A schema of that name that rpcl did not create: never touched. */
  | { kind: 'foreign'; oid: number };

export async function helperSchemaState(client: pg.Client): Promise<HelperSchemaState> {
  const { rows } = await client.query<{ oid: number; marker: string | null }>(
    `SELECT n.oid::int8 AS oid, obj_description(n.oid, 'pg_namespace') AS marker
     FROM pg_namespace n WHERE n.nspname = $1`,
    [HELPER_SCHEMA],
  );
  const row = rows[0];
  if (row === undefined) return { kind: 'absent' };
  const oid = Number(row.oid);
  return row.marker === HELPER_SCHEMA_MARKER ? { kind: 'ours', oid } : { kind: 'foreign', oid };
}

/**
 * Why this role may not use the helper schema another role installed (it must create work
 * objects there and write rpcl.runs), with the grants that fix it; null when it may.
 */
export async function helperSchemaAccessProblem(client: pg.Client): Promise<string | null> {
  const { rows } = await client.query<{ ok: boolean; owner: string; me: string }>(
    `SELECT has_schema_privilege($1, 'USAGE, CREATE') AND has_table_privilege($2, 'SELECT, INSERT, UPDATE')
              -- repack_indexes' record of its rebuilds (version 4), by OID: no name lookup.
              AND coalesce((SELECT has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE') FROM pg_class c
                            WHERE c.relnamespace = n.oid AND c.relname = 'index_runs'), true) AS ok,
            pg_get_userbyid(n.nspowner) AS owner, current_user AS me
     FROM pg_namespace n WHERE n.nspname = $1`,
    [HELPER_SCHEMA, `${quoteIdent(HELPER_SCHEMA)}.runs`],
  );
  const row = rows[0];
  if (row === undefined || row.ok) return null;
  return (
    `the helper schema ${HELPER_SCHEMA} belongs to role ${displayIdent(row.owner)} and role ${displayIdent(row.me)} may not use it. ` +
    `Have its owner run: GRANT USAGE, CREATE ON SCHEMA ${HELPER_SCHEMA} TO ${quoteIdent(row.me)}; ` +
    `GRANT SELECT, INSERT, UPDATE ON ${HELPER_SCHEMA}.runs, ${HELPER_SCHEMA}.index_runs TO ${quoteIdent(row.me)}; ` +
    `or run rpcl as ${displayIdent(row.owner)}`
  );
}

export interface CaptureTrigger {
  triggerName: string;
  tableOid: number;
  schema: string;
  table: string;
}

/** Triggers on tables outside the helper schema that call a function inside it. */
export async function captureTriggers(client: pg.Client, schemaOid: number): Promise<CaptureTrigger[]> {
  const { rows } = await client.query<{ tgname: string; relid: string; nspname: string; relname: string }>(
    `SELECT t.tgname, c.oid::int8 AS relid, n.nspname, c.relname
     FROM pg_trigger t
     JOIN pg_proc p ON p.oid = t.tgfoid
     JOIN pg_class c ON c.oid = t.tgrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE p.pronamespace = $1::oid AND c.relnamespace <> $1::oid
     ORDER BY n.nspname, c.relname, t.tgname`,
    [schemaOid],
  );
  return rows.map((r) => ({ triggerName: r.tgname, tableOid: Number(r.relid), schema: r.nspname, table: r.relname }));
}

/**
 * Objects outside the helper schema that depend on something inside it (a user's view on a
 * log table, say). DROP SCHEMA ... CASCADE would silently take them along, so they are reported
 * and the drop refused. Capture triggers are excluded: removing them is the point.
 */
export async function foreignDependents(client: pg.Client, schemaOid: number): Promise<string[]> {
  const { rows } = await client.query<{ dependent: string }>(
    `WITH inside AS (
       SELECT 'pg_class'::regclass AS classid, oid FROM pg_class WHERE relnamespace = $1::oid
       UNION ALL SELECT 'pg_proc'::regclass, oid FROM pg_proc WHERE pronamespace = $1::oid
       UNION ALL SELECT 'pg_type'::regclass, oid FROM pg_type WHERE typnamespace = $1::oid
     ), deps AS (
       SELECT DISTINCT d.classid, d.objid, d.objsubid
       FROM pg_depend d JOIN inside i ON i.classid = d.refclassid AND i.oid = d.refobjid
       WHERE d.deptype = 'n'
     )
     SELECT pg_describe_object(deps.classid, deps.objid, deps.objsubid) AS dependent
     FROM deps
     WHERE CASE deps.classid
       WHEN 'pg_class'::regclass THEN (SELECT relnamespace FROM pg_class WHERE oid = deps.objid)
       WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = deps.objid)
       WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = deps.objid)
       WHEN 'pg_constraint'::regclass THEN (SELECT connamespace FROM pg_constraint WHERE oid = deps.objid)
       WHEN 'pg_rewrite'::regclass THEN
         (SELECT c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid = deps.objid)
       WHEN 'pg_attrdef'::regclass THEN
         (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid WHERE a.oid = deps.objid)
       WHEN 'pg_trigger'::regclass THEN NULL
       ELSE NULL
     END IS DISTINCT FROM $1::oid
       AND deps.classid <> 'pg_trigger'::regclass
     ORDER BY 1`,
    [schemaOid],
  );
  return rows.map((r) => r.dependent);
}

export async function liveRunLocks(client: pg.Client): Promise<{ tableOid: number; pid: number }[]> {
  const { rows } = await client.query<{ table_oid: string; pid: number }>(liveRunLocksSql, [ADVISORY_CLASS]);
  return rows.map((r) => ({ tableOid: Number(r.table_oid), pid: r.pid }));
}
