/**
 * The schema as text, for "nothing changed but the table's compactness": every object's
 * definition through the pg_get_*def functions and the catalogs, without OIDs, sorted. rpcl's
 * own schema is left out. `pg_dump --schema-only` is compared as well where Debian's pg_dump
 * (15) can dump the server.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type pg from 'pg';
import type { TestDatabase } from './db.js';

const USER_NAMESPACES = `SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'rpcl')
  AND nspname !~ '^pg_(toast|temp)'`;

export async function catalogSnapshot(sql: pg.Client): Promise<string[]> {
  await sql.query(`SET search_path = pg_catalog`);
  const version = Number((await sql.query(`SHOW server_version_num`)).rows[0].server_version_num);
  const compression = version >= 140000 ? `, a.attcompression::text` : '';
  const { rows } = await sql.query<{ line: string }>(`
    WITH ns AS (${USER_NAMESPACES}),
    rels AS (SELECT c.* FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns))
    SELECT 'relation ' || c.oid::regclass::text || ' kind ' || c.relkind::text || ' persistence ' || c.relpersistence::text
      || ' owner ' || pg_get_userbyid(c.relowner) || ' acl ' || coalesce(c.relacl::text, '-')
      || ' options ' || coalesce(c.reloptions::text, '-') || ' toast ' || coalesce(t.reloptions::text, '-')
      || ' replident ' || c.relreplident::text || ' rls ' || c.relrowsecurity || '/' || c.relforcerowsecurity
      || ' tablespace ' || c.reltablespace || ' comment ' || coalesce(obj_description(c.oid, 'pg_class'), '-') AS line
    FROM rels c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
    UNION ALL
    SELECT 'column ' || c.oid::regclass::text || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
      || ' notnull ' || a.attnotnull || ' default ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
      || ' identity ' || a.attidentity::text || ' generated ' || a.attgenerated::text || ' collation ' || a.attcollation::regcollation::text
      || ' stattarget ' || coalesce(a.attstattarget::text, '-') || ' options ' || coalesce(a.attoptions::text, '-')
      || ' storage ' || a.attstorage::text || ' acl ' || coalesce(a.attacl::text, '-')
      || ' comment ' || coalesce(col_description(a.attrelid, a.attnum), '-') || concat(' compression '${compression})
    FROM rels c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    UNION ALL
    SELECT 'constraint ' || con.conrelid::regclass::text || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
      || ' validated ' || con.convalidated || ' comment ' || coalesce(obj_description(con.oid, 'pg_constraint'), '-')
    FROM pg_constraint con WHERE con.connamespace IN (SELECT oid FROM ns) AND con.contype <> 'n'
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid) || ' clustered ' || i.indisclustered || ' replident ' || i.indisreplident
      || ' valid ' || i.indisvalid || ' tablespace ' || ic.reltablespace || ' options ' || coalesce(ic.reloptions::text, '-')
      || ' comment ' || coalesce(obj_description(i.indexrelid, 'pg_class'), '-')
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE ic.relnamespace IN (SELECT oid FROM ns)
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(tg.oid) || ' enabled ' || tg.tgenabled::text
      || ' comment ' || coalesce(obj_description(tg.oid, 'pg_trigger'), '-')
    FROM pg_trigger tg JOIN rels c ON c.oid = tg.tgrelid WHERE NOT tg.tgisinternal
    UNION ALL
    SELECT 'rule ' || pg_get_ruledef(r.oid) || ' enabled ' || r.ev_enabled::text || ' comment ' || coalesce(obj_description(r.oid, 'pg_rewrite'), '-')
    FROM pg_rewrite r JOIN rels c ON c.oid = r.ev_class WHERE r.rulename <> '_RETURN'
    UNION ALL
    SELECT 'view ' || c.oid::regclass::text || ' ' || pg_get_viewdef(c.oid) FROM rels c WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT 'policy ' || p.polrelid::regclass::text || ' ' || p.polname || ' ' || p.polpermissive || ' ' || p.polcmd::text
      || ' ' || p.polroles::regrole[]::text || ' ' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-')
      || ' ' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-') || ' ' || coalesce(obj_description(p.oid, 'pg_policy'), '-')
    FROM pg_policy p JOIN rels c ON c.oid = p.polrelid
    UNION ALL
    SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || s.seqtypid::regtype::text || ' ' || s.seqstart || ' ' || s.seqincrement
      || ' ' || s.seqmax || ' ' || s.seqmin || ' ' || s.seqcache || ' ' || s.seqcycle
      || ' owned by ' || coalesce((SELECT d.refobjid::regclass::text || '.' || a.attname || ' ' || d.deptype::text FROM pg_depend d
           JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
           WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')), '-')
    FROM pg_sequence s JOIN rels c ON c.oid = s.seqrelid
    UNION ALL
    SELECT 'publication ' || p.pubname || ' ' || pr.prrelid::regclass::text
    FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
    UNION ALL
    SELECT 'statistics ' || pg_get_statisticsobjdef(s.oid) || ' target ' || coalesce(s.stxstattarget::text, '-')
      || ' comment ' || coalesce(obj_description(s.oid, 'pg_statistic_ext'), '-')
    FROM pg_statistic_ext s WHERE s.stxnamespace IN (SELECT oid FROM ns)
    UNION ALL
    SELECT 'dependency ' || pg_describe_object(d.classid, d.objid, d.objsubid) || ' -> ' || pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
      || ' ' || d.deptype::text
    FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
    JOIN rels c ON c.oid = r.ev_class WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class
    ORDER BY 1`);
  await sql.query(`RESET search_path`);
  return rows.map((r) => r.line);
}

const PG_DUMP = '/usr/lib/postgresql/15/bin/pg_dump';

/** pg_dump --schema-only text, or null when Debian's pg_dump 15 cannot dump this server. */
export async function schemaDump(db: TestDatabase): Promise<string | null> {
  const bin = existsSync(PG_DUMP) ? PG_DUMP : existsSync('/usr/bin/pg_dump') ? '/usr/bin/pg_dump' : null;
  if (bin === null || db.major > 15) return null;
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      ['--schema-only', '-N', 'rpcl', '-h', db.host, '-p', String(db.port), '-U', db.user, db.database],
      { env: { ...process.env, PGPASSWORD: db.password }, maxBuffer: 64 * 1024 * 1024 },
      // pg_dump 15.14+ frames its output with a random \restrict key: the only text that must differ.
      (err, stdout, stderr) =>
        err ? reject(new Error(`pg_dump failed: ${stderr}`)) : resolve(stdout.replace(/^\\(un)?restrict \S+$/gm, '\\$1restrict KEY')),
    );
  });
}
