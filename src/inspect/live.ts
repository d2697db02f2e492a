/**
 * Definitions read at the moment of the swap, inside its transaction. Run them with
 * search_path = pg_catalog: every name in the returned text is then schema-qualified.
 */
import type pg from 'pg';
import { quoteQualified } from '../db/ident.js';
import { HELPER_SCHEMA, workNames } from '../plan/names.js';
import { helperName } from '../plan/capture.js';
import type { LiveForeignKey, LiveIdentity, LiveView } from '../plan/swap.js';

export async function liveForeignKeys(client: pg.Client, oid: number): Promise<LiveForeignKey[]> {
  const { rows } = await client.query(
    `SELECT con.conname, n.nspname, c.relname, pg_get_constraintdef(con.oid) AS def, con.convalidated,
            obj_description(con.oid, 'pg_constraint') AS comment, con.conrelid = $1::oid AS on_table
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE con.contype = 'f' AND (con.conrelid = $1::oid OR con.confrelid = $1::oid)
     ORDER BY con.conrelid = $1::oid DESC, n.nspname, c.relname, con.conname`,
    [oid],
  );
  return rows.map((r) => ({
    name: r.conname,
    table: { schema: r.nspname, name: r.relname },
    definition: r.def,
    validated: r.convalidated,
    comment: r.comment,
    onRepackedTable: r.on_table,
  }));
}

export async function liveViews(client: pg.Client, oid: number): Promise<LiveView[]> {
  const { rows } = await client.query(
    `SELECT DISTINCT v.oid, n.nspname, v.relname, pg_get_viewdef(v.oid) AS def, coalesce(v.reloptions, '{}') AS options
     FROM pg_depend d
     JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
     JOIN pg_class v ON v.oid = r.ev_class
     JOIN pg_namespace n ON n.oid = v.relnamespace
     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid AND v.oid <> $1::oid AND v.relkind = 'v'
     ORDER BY v.oid`,
    [oid],
  );
  return rows.map((r) => ({ view: { schema: r.nspname, name: r.relname }, definition: r.def, options: r.options }));
}

export async function liveIdentities(client: pg.Client, oid: number): Promise<LiveIdentity[]> {
  const seqOf = `SELECT a.attname, n.nspname, s.relname
     FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
     JOIN pg_namespace n ON n.oid = s.relnamespace
     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i'
       AND d.refobjid = $1::regclass`;
  const original = await client.query(seqOf, [oid]);
  const copy = await client.query(seqOf, [helperName(workNames.copyTable(oid))]);
  const result: LiveIdentity[] = [];
  for (const o of original.rows) {
    const c = copy.rows.find((x) => x.attname === o.attname);
    if (c === undefined || c.nspname !== HELPER_SCHEMA) throw new Error(`identity column ${o.attname}: the copy has no identity sequence`);
    const seq = quoteQualified({ schema: o.nspname, name: o.relname });
    const state = await client.query(`SELECT last_value::text AS v, is_called FROM ${seq}`);
    result.push({
      column: o.attname,
      copySequence: c.relname,
      originalSequence: { schema: o.nspname, name: o.relname },
      lastValue: state.rows[0].v,
      isCalled: state.rows[0].is_called,
    });
  }
  return result;
}
