/**
 * Definitions read at the moment of the swap, inside its transaction. Run them with
 * search_path = pg_catalog: every name in the returned text is then schema-qualified.
 */
import type pg from 'pg';
import { quoteQualified } from '../db/ident.js';
import { HELPER_SCHEMA, workNames } from '../plan/names.js';
import { helperName } from '../plan/capture.js';
import { readAcl } from './acl.js';
import type {
  LiveForeignKey, LiveIdentity, LiveMatview, LivePolicy, LivePublication, LiveRule, LiveStatistics, LiveTrigger, LiveView,
} from '../plan/swap.js';

export async function liveForeignKeys(client: pg.Client, oid: number): Promise<LiveForeignKey[]> {
  const { rows } = await client.query(
    `SELECT con.conname, n.nspname, c.relname, pg_get_constraintdef(con.oid) AS def, con.convalidated,
            obj_description(con.oid, 'pg_constraint') AS comment, con.conrelid = $1::oid AS on_table
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE con.contype = 'f' AND (con.conrelid = $1::oid OR con.confrelid = $1::oid) AND con.conparentid = 0
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
  const seqOf = `SELECT a.attname, n.nspname, s.relname, s.oid::int8 AS oid, obj_description(s.oid, 'pg_class') AS comment
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
      acl: await readAcl(client, Number(o.oid)),
      comment: o.comment,
    });
  }
  return result;
}

export async function liveTriggers(client: pg.Client, oid: number): Promise<LiveTrigger[]> {
  const { rows } = await client.query(
    `SELECT t.tgname, pg_get_triggerdef(t.oid) AS def, t.tgenabled::text AS enabled, obj_description(t.oid, 'pg_trigger') AS comment,
            con.conname, obj_description(con.oid, 'pg_constraint') AS constraint_comment
     FROM pg_trigger t LEFT JOIN pg_constraint con ON con.oid = t.tgconstraint
     WHERE t.tgrelid = $1::oid AND NOT t.tgisinternal AND t.tgparentid = 0 AND t.tgname NOT LIKE 'rpcl\\_capture\\_%'
     ORDER BY t.tgname`,
    [oid],
  );
  return rows.map((r) => ({
    name: r.tgname, definition: r.def, enabled: r.enabled, comment: r.comment,
    constraint: r.conname === null ? null : { name: r.conname, comment: r.constraint_comment },
  }));
}

export async function liveRules(client: pg.Client, oid: number): Promise<LiveRule[]> {
  const { rows } = await client.query(
    `SELECT r.rulename, pg_get_ruledef(r.oid) AS def, r.ev_enabled::text AS enabled, obj_description(r.oid, 'pg_rewrite') AS comment
     FROM pg_rewrite r WHERE r.ev_class = $1::oid AND r.rulename <> '_RETURN' ORDER BY r.rulename`,
    [oid],
  );
  return rows.map((r) => ({ name: r.rulename, definition: r.def, enabled: r.enabled, comment: r.comment }));
}

export async function livePolicies(client: pg.Client, oid: number): Promise<LivePolicy[]> {
  const { rows } = await client.query(
    `SELECT p.polname, p.polpermissive, p.polcmd::text AS cmd,
            ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END
                  FROM unnest(p.polroles) r ORDER BY 1) AS roles,
            pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
            obj_description(p.oid, 'pg_policy') AS comment
     FROM pg_policy p WHERE p.polrelid = $1::oid ORDER BY p.polname`,
    [oid],
  );
  return rows.map((r) => ({
    name: r.polname, permissive: r.polpermissive, command: r.cmd, roles: r.roles, using: r.qual,
    withCheck: r.with_check, comment: r.comment,
  }));
}

/** Publications listing the table, with a column list and a row filter from PostgreSQL 15. */
export async function livePublications(client: pg.Client, oid: number, serverVersion: number): Promise<LivePublication[]> {
  const extra = serverVersion >= 150000
    ? `, pg_get_expr(pr.prqual, pr.prrelid) AS qual,
         (SELECT array_agg(quote_ident(a.attname) ORDER BY k.ord) FROM unnest(pr.prattrs) WITH ORDINALITY k(attnum, ord)
          JOIN pg_attribute a ON a.attrelid = pr.prrelid AND a.attnum = k.attnum) AS cols`
    : ', NULL AS qual, NULL AS cols';
  const { rows } = await client.query(
    `SELECT p.pubname${extra} FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
     WHERE pr.prrelid = $1::oid ORDER BY p.pubname`,
    [oid],
  );
  return rows.map((r) => ({ name: r.pubname, rowFilter: r.qual, columns: r.cols }));
}

export async function liveStatistics(client: pg.Client, oid: number): Promise<LiveStatistics[]> {
  const { rows } = await client.query(
    `SELECT n.nspname, s.stxname, pg_get_statisticsobjdef(s.oid) AS def, s.stxstattarget::text AS target,
            obj_description(s.oid, 'pg_statistic_ext') AS comment
     FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
     WHERE s.stxrelid = $1::oid ORDER BY n.nspname, s.stxname`,
    [oid],
  );
  return rows.map((r) => ({
    statistics: { schema: r.nspname, name: r.stxname }, definition: r.def,
    target: r.target === null || r.target === '-1' ? null : Number(r.target), comment: r.comment,
  }));
}

/** Materialized views reading the table, with everything needed to re-create them as they are. */
export async function liveMatviews(client: pg.Client, oid: number): Promise<LiveMatview[]> {
  const { rows } = await client.query(
    `SELECT DISTINCT m.oid::int8 AS oid, n.nspname, m.relname, pg_get_viewdef(m.oid) AS def, coalesce(m.reloptions, '{}') AS options,
            ts.spcname, m.relispopulated, pg_get_userbyid(m.relowner) AS owner, obj_description(m.oid, 'pg_class') AS comment
     FROM pg_depend d
     JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
     JOIN pg_class m ON m.oid = r.ev_class AND m.relkind = 'm'
     JOIN pg_namespace n ON n.oid = m.relnamespace
     LEFT JOIN pg_tablespace ts ON ts.oid = m.reltablespace
     WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid
     ORDER BY 1`,
    [oid],
  );
  const result: LiveMatview[] = [];
  for (const m of rows) {
    const acl = await readAcl(client, Number(m.oid));
    const comments = await client.query(
      `SELECT a.attname AS col, col_description(a.attrelid, a.attnum) AS comment FROM pg_attribute a
       WHERE a.attrelid = $1::oid AND a.attnum > 0 AND col_description(a.attrelid, a.attnum) IS NOT NULL ORDER BY a.attnum`,
      [m.oid],
    );
    const indexes = await client.query(
      `SELECT ic.relname, pg_get_indexdef(i.indexrelid) AS def, ts.spcname, obj_description(ic.oid, 'pg_class') AS comment, i.indisclustered
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
       WHERE i.indrelid = $1::oid ORDER BY ic.relname`,
      [m.oid],
    );
    result.push({
      view: { schema: m.nspname, name: m.relname }, definition: m.def, options: m.options, tablespace: m.spcname,
      populated: m.relispopulated, owner: m.owner, comment: m.comment,
      acl,
      columnComments: comments.rows.map((c) => ({ column: c.col, comment: c.comment })),
      indexes: indexes.rows.map((i) => ({ name: i.relname, definition: i.def, tablespace: i.spcname, comment: i.comment, clustered: i.indisclustered })),
    });
  }
  return result;
}
