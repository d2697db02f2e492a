/**
 * Change capture: a log of keys, filled by an ALWAYS row trigger on the table.
 *
 * Only keys are logged (old and new key when an UPDATE changes it); replay re-reads each
 * touched row's state from the table itself. That keeps the writers' cost to one narrow insert
 * per row and makes replay idempotent.
 *
 * The application's TRUNCATE is logged as a marker row whose key columns are all NULL (a key
 * column is never NULL in the table). Replay reads the marker as "the copy is empty from here
 * on": TRUNCATE takes ACCESS EXCLUSIVE, so every transaction that wrote the table before it
 * had committed, and every row the table holds after it was written later and logged its key
 * after the marker. A batch that sees the marker therefore empties the copy and re-reads the
 * keys it took, which include every row its snapshot can see (see plan/replay.ts).
 *
 * The trigger function is SECURITY DEFINER with a fixed search_path, so writers that only have
 * DML grants on the table can still write the log; it widens nothing, because a trigger
 * function cannot be called except as a trigger, and EXECUTE is revoked from PUBLIC anyway.
 */
import { quoteIdent, quoteQualified } from '../db/ident.js';
import type { ColumnFact, TableFacts } from '../inspect/facts.js';
import { HELPER_SCHEMA, workNames } from './names.js';
import type { Step } from './step.js';

export function helperName(name: string): string {
  return `${quoteIdent(HELPER_SCHEMA)}.${quoteIdent(name)}`;
}

export function tableRef(facts: Pick<TableFacts, 'schema' | 'name'>): string {
  return quoteQualified({ schema: facts.schema, name: facts.name });
}

export function keyColumns(facts: TableFacts): ColumnFact[] {
  if (facts.key === null) throw new Error(`table ${facts.name} has no usable key`);
  return facts.key.columns.map((name) => {
    const col = facts.columns.find((c) => c.name === name);
    if (col === undefined) throw new Error(`key column ${name} not found`);
    return col;
  });
}

/** `"col" type COLLATE "schema"."coll"` for a log or batch column mirroring a key column. */
export function keyColumnDeclaration(c: ColumnFact): string {
  const collate = c.collation ? ` COLLATE ${quoteQualified(c.collation)}` : '';
  return `${quoteIdent(c.name)} ${c.type}${collate} NOT NULL`;
}

/** The log column that tells a TRUNCATE marker (NULL) from a logged key (never NULL). */
export function markerColumn(facts: TableFacts): string {
  return quoteIdent(keyColumns(facts)[0]!.name);
}

export function createLogTable(facts: TableFacts): Step {
  // Nullable: a row with every key column NULL is the marker of a TRUNCATE.
  const cols = keyColumns(facts).map((c) => keyColumnDeclaration(c).replace(/ NOT NULL$/, '')).join(', ');
  return {
    description: 'create the change log',
    sql: `CREATE TABLE ${helperName(workNames.logTable(facts.oid))} (rpcl_id bigserial, ${cols})`,
  };
}

/** Picks a dollar-quote tag that cannot occur in the body (column names are user text). */
function dollarQuote(body: string): string {
  let tag = '$rpcl$';
  for (let i = 0; body.includes(tag); i++) tag = `$rpcl${i}$`;
  return `${tag}${body}${tag}`;
}

export function createCaptureFunction(facts: TableFacts): Step {
  const keys = keyColumns(facts).map((c) => quoteIdent(c.name));
  const log = helperName(workNames.logTable(facts.oid));
  const insert = (rec: 'NEW' | 'OLD') =>
    `INSERT INTO ${log} (${keys.join(', ')}) VALUES (${keys.map((k) => `${rec}.${k}`).join(', ')});`;
  const row = (rec: 'NEW' | 'OLD') => `ROW(${keys.map((k) => `${rec}.${k}`).join(', ')})`;
  const body = `
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    INSERT INTO ${log} DEFAULT VALUES;
    RETURN NULL;
  ELSIF TG_OP = 'DELETE' THEN
    ${insert('OLD')}
  ELSE
    ${insert('NEW')}
    IF TG_OP = 'UPDATE' AND ${row('OLD')} IS DISTINCT FROM ${row('NEW')} THEN
      ${insert('OLD')}
    END IF;
  END IF;
  RETURN NULL;
END
`;
  const fn = helperName(workNames.captureFunction(facts.oid));
  return {
    description: 'create the capture trigger function',
    sql:
      `CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER ` +
      `SET search_path = pg_catalog, pg_temp AS ${dollarQuote(body)};\n` +
      `REVOKE ALL ON FUNCTION ${fn}() FROM PUBLIC`,
  };
}

/**
 * CREATE TRIGGER takes SHARE ROW EXCLUSIVE: it waits for in-flight writers, so every write not
 * logged committed before the trigger existed, and the copy's snapshot (taken after this
 * commits) sees all of those.
 */
export function createCaptureTriggers(facts: TableFacts): Step {
  const t = tableRef(facts);
  const fn = helperName(workNames.captureFunction(facts.oid));
  const row = quoteIdent(workNames.captureTrigger(facts.oid));
  const trunc = quoteIdent(workNames.truncateTrigger(facts.oid));
  return {
    description: 'create the capture triggers (ENABLE ALWAYS)',
    sql: [
      `CREATE TRIGGER ${row} AFTER INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${fn}()`,
      `CREATE TRIGGER ${trunc} BEFORE TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`,
      `ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${row}`,
      `ALTER TABLE ${t} ENABLE ALWAYS TRIGGER ${trunc}`,
    ].join(';\n'),
    locks: [{ table: t, level: 'SHARE ROW EXCLUSIVE' }],
  };
}

export function dropCaptureTriggers(facts: Pick<TableFacts, 'oid' | 'schema' | 'name'>): Step {
  const t = tableRef(facts);
  return {
    description: 'drop the capture triggers',
    sql: [
      `DROP TRIGGER IF EXISTS ${quoteIdent(workNames.captureTrigger(facts.oid))} ON ${t}`,
      `DROP TRIGGER IF EXISTS ${quoteIdent(workNames.truncateTrigger(facts.oid))} ON ${t}`,
    ].join(';\n'),
    locks: [{ table: t, level: 'ACCESS EXCLUSIVE' }],
  };
}
