/**
 * The swap transaction's statements, after the ACCESS EXCLUSIVE lock is held and the final
 * catch-up is done: the copy takes the table's name, schema, index and constraint names, and
 * everything bound to the old table's OID is re-pointed to it. Everything here is catalog work
 * (no data is read or written), so the lock is held for milliseconds.
 *
 * Definitions that name other objects (foreign keys, views) are read inside the swap
 * transaction with search_path = pg_catalog, so every name in them is schema-qualified and
 * still means the same object after the renames, except the table's own name, which from then
 * on means the copy: exactly the re-pointing wanted.
 */
import { quoteIdent, quoteLiteral, quoteQualified, type QualifiedName } from '../db/ident.js';
import type { TableFacts } from '../inspect/facts.js';
import { dropCaptureTriggers, helperName, tableRef } from './capture.js';
import { HELPER_SCHEMA, workNames } from './names.js';
import { reloptionItems } from './options.js';
import type { Step } from './step.js';
import { finalReloptionItems, NO_OPTIONS, type EffectiveOptions } from './table-options.js';
import type { ObjectAcl } from '../inspect/acl.js';
import { aclSteps } from './acl.js';
import { attachPartition, detachPartition } from './partition.js';

export { reloptionItems };
export { swapLocks } from './swap-locks.js';

export interface LiveForeignKey {
  name: string;
  table: QualifiedName;
  /** pg_get_constraintdef read in the swap transaction. */
  definition: string;
  validated: boolean;
  comment: string | null;
  /** Declared on the repacked table itself (outgoing, self references included). */
  onRepackedTable: boolean;
}

export interface LiveView {
  view: QualifiedName;
  /** pg_get_viewdef read in the swap transaction. */
  definition: string;
  options: string[];
}

export interface LiveIdentity {
  column: string;
  /** The copy's identity sequence, in the helper schema until the copy moves. */
  copySequence: string;
  originalSequence: QualifiedName;
  lastValue: string;
  isCalled: boolean;
  /** The original sequence's privileges and comment: the copy's sequence takes its place. */
  acl: ObjectAcl;
  comment: string | null;
}

export interface LiveMatview {
  view: QualifiedName;
  /** pg_get_viewdef read in the swap transaction. */
  definition: string;
  options: string[];
  tablespace: string | null;
  populated: boolean;
  owner: string;
  acl: ObjectAcl;
  comment: string | null;
  columnComments: { column: string; comment: string }[];
  /** pg_get_indexdef of each index, with its tablespace, comment and cluster mark. */
  indexes: { name: string; definition: string; tablespace: string | null; comment: string | null; clustered: boolean }[];
}

export interface LiveTrigger {
  name: string;
  /** pg_get_triggerdef, naming the table: re-read after the rename it means the new one. */
  definition: string;
  /** tgenabled: O origin (the default), D disabled, R replica, A always. */
  enabled: string;
  comment: string | null;
  /** A constraint trigger's constraint (same name), which has a comment of its own. */
  constraint?: { name: string; comment: string | null } | null;
}

export interface LiveRule {
  name: string;
  definition: string;
  /** ev_enabled, as tgenabled. */
  enabled: string;
  comment: string | null;
}

export interface LivePolicy {
  name: string;
  permissive: boolean;
  /** r SELECT, a INSERT, w UPDATE, d DELETE, * ALL */
  command: string;
  /** Quoted role names, or PUBLIC. */
  roles: string[];
  using: string | null;
  withCheck: string | null;
  comment: string | null;
}

export interface LivePublication {
  name: string;
  rowFilter: string | null;
  /** Quoted column names of a column list, or null for all columns. */
  columns: string[] | null;
}

export interface LiveStatistics {
  statistics: QualifiedName;
  definition: string;
  target: number | null;
  comment: string | null;
}

export interface SwapInputs {
  facts: TableFacts;
  /** The table's privileges read in the swap transaction (facts.grants, read at the start, otherwise). */
  acl?: ObjectAcl;
  foreignKeys: LiveForeignKey[];
  views: LiveView[];
  identities: LiveIdentity[];
  triggers?: LiveTrigger[];
  rules?: LiveRule[];
  policies?: LivePolicy[];
  publications?: LivePublication[];
  statistics?: LiveStatistics[];
  matviews?: LiveMatview[];
  /** table_options in effect: their storage parameters stay on the new table. */
  options?: EffectiveOptions;
}

const ENABLE: Record<string, string | null> = { O: null, D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' };
const POLICY_COMMAND: Record<string, string> = { r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', '*': 'ALL' };

export function matviewSteps(mv: LiveMatview): Step[] {
  const name = quoteQualified(mv.view);
  const steps: Step[] = [];
  const add = (description: string, sql: string, params?: unknown[]) => steps.push({ description, sql, params });
  const options = mv.options.length > 0 ? ` WITH (${reloptionItems(mv.options).join(', ')})` : '';
  const space = mv.tablespace ? ` TABLESPACE ${quoteIdent(mv.tablespace)}` : '';
  add(`materialized view ${mv.view.name}`,
    `CREATE MATERIALIZED VIEW ${name}${options}${space} AS ${mv.definition.trim().replace(/;$/, '')} WITH ${mv.populated ? '' : 'NO '}DATA`);
  add(`owner of ${mv.view.name}`, `ALTER MATERIALIZED VIEW ${name} OWNER TO ${quoteIdent(mv.owner)}`);
  for (const i of mv.indexes) {
    add(`index ${i.name} tablespace`, `SELECT set_config('default_tablespace', $1, true)`, [i.tablespace ?? '']);
    add(`index ${i.name} of ${mv.view.name}`, i.definition);
    if (i.comment !== null) add(`comment on index ${i.name}`, `COMMENT ON INDEX ${quoteQualified({ schema: mv.view.schema, name: i.name })} IS ${quoteLiteral(i.comment)}`);
    if (i.clustered) add(`cluster mark of ${mv.view.name}`, `ALTER MATERIALIZED VIEW ${name} CLUSTER ON ${quoteIdent(i.name)}`);
  }
  if (mv.indexes.length > 0) add('default tablespace back', `SELECT set_config('default_tablespace', '', true)`);
  steps.push(...aclSteps(`TABLE ${name}`, mv.owner, mv.acl));
  if (mv.comment !== null) add(`comment on ${mv.view.name}`, `COMMENT ON MATERIALIZED VIEW ${name} IS ${quoteLiteral(mv.comment)}`);
  for (const c of mv.columnComments) {
    add(`comment on ${mv.view.name}.${c.column}`, `COMMENT ON COLUMN ${name}.${quoteIdent(c.column)} IS ${quoteLiteral(c.comment)}`);
  }
  return steps;
}

/** Triggers, rules, policies, publication membership and extended statistics of the new table. */
export function attachmentSteps(input: SwapInputs): Step[] {
  const table = tableRef(input.facts);
  const steps: Step[] = [];
  const add = (description: string, sql: string) => steps.push({ description, sql });
  for (const st of input.statistics ?? []) {
    // Statistics objects live in their own schema: the old table's must make way for the name.
    add(`extended statistics ${st.statistics.name} move to the new table`, `DROP STATISTICS ${quoteQualified(st.statistics)}`);
    add(`extended statistics ${st.statistics.name}`, st.definition);
    if (st.target !== null) add(`statistics target of ${st.statistics.name}`, `ALTER STATISTICS ${quoteQualified(st.statistics)} SET STATISTICS ${st.target}`);
    if (st.comment !== null) add(`comment on ${st.statistics.name}`, `COMMENT ON STATISTICS ${quoteQualified(st.statistics)} IS ${quoteLiteral(st.comment)}`);
  }
  for (const t of input.triggers ?? []) {
    add(`trigger ${t.name}`, t.definition);
    const state = ENABLE[t.enabled];
    if (state) add(`trigger ${t.name} stays ${state.toLowerCase()}d`, `ALTER TABLE ${table} ${state} TRIGGER ${quoteIdent(t.name)}`);
    if (t.comment !== null) add(`comment on trigger ${t.name}`, `COMMENT ON TRIGGER ${quoteIdent(t.name)} ON ${table} IS ${quoteLiteral(t.comment)}`);
    if (t.constraint?.comment != null) {
      add(`comment on constraint ${t.constraint.name}`, `COMMENT ON CONSTRAINT ${quoteIdent(t.constraint.name)} ON ${table} IS ${quoteLiteral(t.constraint.comment)}`);
    }
  }
  for (const r of input.rules ?? []) {
    add(`rule ${r.name}`, r.definition.trim().replace(/;$/, ''));
    const state = ENABLE[r.enabled];
    if (state) add(`rule ${r.name} stays ${state.toLowerCase()}d`, `ALTER TABLE ${table} ${state} RULE ${quoteIdent(r.name)}`);
    if (r.comment !== null) add(`comment on rule ${r.name}`, `COMMENT ON RULE ${quoteIdent(r.name)} ON ${table} IS ${quoteLiteral(r.comment)}`);
  }
  for (const p of input.policies ?? []) {
    const using = p.using !== null ? ` USING (${p.using})` : '';
    const check = p.withCheck !== null ? ` WITH CHECK (${p.withCheck})` : '';
    add(`policy ${p.name}`,
      `CREATE POLICY ${quoteIdent(p.name)} ON ${table} AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} ` +
        `FOR ${POLICY_COMMAND[p.command] ?? 'ALL'} TO ${p.roles.join(', ')}${using}${check}`);
    if (p.comment !== null) add(`comment on policy ${p.name}`, `COMMENT ON POLICY ${quoteIdent(p.name)} ON ${table} IS ${quoteLiteral(p.comment)}`);
  }
  for (const pub of input.publications ?? []) {
    const cols = pub.columns ? ` (${pub.columns.join(', ')})` : '';
    const where = pub.rowFilter !== null ? ` WHERE (${pub.rowFilter})` : '';
    add(`publication ${pub.name}`, `ALTER PUBLICATION ${quoteIdent(pub.name)} ADD TABLE ${table}${cols}${where}`);
  }
  return steps;
}

export function withoutNotValid(definition: string): string {
  return definition.replace(/ NOT VALID$/, '');
}

export function swapSteps(input: SwapInputs): Step[] {
  const { facts } = input;
  const table = tableRef(facts);
  const copyInHelper = helperName(workNames.copyTable(facts.oid));
  const oldName = workNames.oldTable(facts.oid);
  const steps: Step[] = [];
  const add = (description: string, sql: string) => steps.push({ description, sql });

  // A materialized view cannot be re-pointed in place: it is re-created, populated inside this
  // transaction, so readers never see it missing or empty.
  for (const mv of input.matviews ?? []) {
    add(`drop materialized view ${mv.view.name} (re-created on the new table)`, `DROP MATERIALIZED VIEW ${quoteQualified(mv.view)}`);
  }
  for (const fk of input.foreignKeys.filter((f) => !f.onRepackedTable)) {
    add(`drop foreign key ${fk.name} on ${fk.table.name} (re-created on the new table)`,
      `ALTER TABLE ${quoteQualified(fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
  }
  // A serial's sequence would follow its owner into the helper schema and be dropped with
  // it; it is detached now and given to the new table once that is in the schema.
  for (const seq of facts.ownedSequences) {
    add(`detach sequence ${seq.name} from the old table`, `ALTER SEQUENCE ${quoteQualified(seq)} OWNED BY NONE`);
  }
  steps.push(dropCaptureTriggers(facts));
  steps.push(...detachPartition(facts));
  add('move the old table aside', `ALTER TABLE ${table} RENAME TO ${quoteIdent(oldName)}`);
  add('move the old table into the helper schema',
    `ALTER TABLE ${quoteQualified({ schema: facts.schema, name: oldName })} SET SCHEMA ${quoteIdent(HELPER_SCHEMA)}`);
  add('move the copy into the table\'s schema', `ALTER TABLE ${copyInHelper} SET SCHEMA ${quoteIdent(facts.schema)}`);
  add('give the copy the table\'s name',
    `ALTER TABLE ${quoteQualified({ schema: facts.schema, name: workNames.copyTable(facts.oid) })} RENAME TO ${quoteIdent(facts.name)}`);
  facts.indexes.forEach((index, k) => {
    add(`index ${index.name} keeps its name`,
      `ALTER INDEX ${quoteQualified({ schema: facts.schema, name: workNames.copyIndex(facts.oid, k) })} RENAME TO ${quoteIdent(index.name)}`);
  });
  // No scan: NOT VALID checks only rows written from now on, as it did on the old table. Before
  // ATTACH: a partition must have its partitioned table's constraints, NOT VALID ones included.
  for (const c of facts.notValidConstraints) {
    add(`constraint ${c.name} stays NOT VALID`, `ALTER TABLE ${table} ADD CONSTRAINT ${quoteIdent(c.name)} ${c.definition}`);
    if (c.comment !== null) add(`comment on constraint ${c.name}`, `COMMENT ON CONSTRAINT ${quoteIdent(c.name)} ON ${table} IS ${quoteLiteral(c.comment)}`);
  }
  steps.push(...attachPartition(facts));
  for (const seq of facts.ownedSequences) {
    add(`sequence ${seq.name} stays owned by column ${seq.column}`,
      `ALTER SEQUENCE ${quoteQualified(seq)} OWNED BY ${table}.${quoteIdent(seq.column)}`);
  }
  for (const id of input.identities) {
    const moved = { schema: facts.schema, name: id.copySequence };
    add(`identity sequence of ${id.column} keeps its name`,
      `ALTER SEQUENCE ${quoteQualified(moved)} RENAME TO ${quoteIdent(id.originalSequence.name)}`);
    steps.push({
      description: `identity sequence of ${id.column} keeps its value`,
      sql: `SELECT setval($1::regclass, $2::int8, $3::bool)`,
      params: [quoteQualified(id.originalSequence), id.lastValue, id.isCalled],
    });
    const seq = quoteQualified(id.originalSequence);
    steps.push(...aclSteps(`SEQUENCE ${seq}`, facts.owner, id.acl));
    if (id.comment !== null) add(`comment on identity sequence of ${id.column}`, `COMMENT ON SEQUENCE ${seq} IS ${quoteLiteral(id.comment)}`);
  }
  add('restore autovacuum', `ALTER TABLE ${table} RESET (autovacuum_enabled, toast.autovacuum_enabled)`);
  // The original storage parameters, with table_options' requested ones over them.
  const relopts = finalReloptionItems(facts, input.options ?? NO_OPTIONS);
  if (relopts.length > 0) add('restore storage parameters', `ALTER TABLE ${table} SET (${relopts.join(', ')})`);

  // NOT VALID: adding a foreign key then needs no scan while the lock is held; the ones that
  // were valid are validated after the swap, without blocking writers.
  for (const fk of input.foreignKeys) {
    add(`foreign key ${fk.name} on ${fk.table.name}`,
      `ALTER TABLE ${quoteQualified(fk.table)} ADD CONSTRAINT ${quoteIdent(fk.name)} ${withoutNotValid(fk.definition)} NOT VALID`);
    if (fk.comment !== null) {
      add(`comment on ${fk.name}`,
        `COMMENT ON CONSTRAINT ${quoteIdent(fk.name)} ON ${quoteQualified(fk.table)} IS ${quoteLiteral(fk.comment)}`);
    }
  }
  for (const v of input.views) {
    const options = v.options.length > 0 ? ` WITH (${reloptionItems(v.options).join(', ')})` : '';
    add(`view ${v.view.name} reads the new table`,
      `CREATE OR REPLACE VIEW ${quoteQualified(v.view)}${options} AS ${v.definition.trim().replace(/;$/, '')}`);
  }
  for (const mv of input.matviews ?? []) steps.push(...matviewSteps(mv));
  steps.push(...aclSteps(`TABLE ${table}`, facts.owner, input.acl ?? facts.grants));
  if (facts.comment !== null) add('table comment', `COMMENT ON TABLE ${table} IS ${quoteLiteral(facts.comment)}`);
  for (const index of facts.indexes) {
    // Comments of the indexes behind PRIMARY KEY, UNIQUE and EXCLUDE constraints too.
    if (index.comment !== null) {
      add(`comment on index ${index.name}`,
        `COMMENT ON INDEX ${quoteQualified({ schema: facts.schema, name: index.name })} IS ${quoteLiteral(index.comment)}`);
    }
    if (index.constraint?.comment != null) {
      add(`comment on constraint ${index.constraint.name}`,
        `COMMENT ON CONSTRAINT ${quoteIdent(index.constraint.name)} ON ${table} IS ${quoteLiteral(index.constraint.comment)}`);
    }
  }
  const identity = { d: 'DEFAULT', n: 'NOTHING', f: 'FULL', i: null }[facts.replicaIdentity];
  const replIndex = facts.indexes.find((i) => i.isReplicaIdentity);
  if (identity !== 'DEFAULT') {
    add('replica identity', `ALTER TABLE ${table} REPLICA IDENTITY ${identity ?? `USING INDEX ${quoteIdent(replIndex?.name ?? '')}`}`);
  }
  if (facts.rowSecurity) add('row level security', `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
  if (facts.forceRowSecurity) add('forced row level security', `ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
  const clustered = facts.indexes.find((i) => i.isClustered);
  if (clustered) add('cluster mark', `ALTER TABLE ${table} CLUSTER ON ${quoteIdent(clustered.name)}`);
  steps.push(...attachmentSteps(input));
  return steps;
}

/** After the swap, in their own transactions: nothing here blocks the application's writes. */
/** `table` is already quoted (as recorded in the run's row). */
export function validateForeignKey(table: string, name: string): Step {
  return {
    description: `validate foreign key ${name}`,
    sql: `ALTER TABLE ${table} VALIDATE CONSTRAINT ${quoteIdent(name)}`,
    locks: [{ table, level: 'SHARE UPDATE EXCLUSIVE' }],
  };
}

export function dropOldTable(oid: number): Step {
  return { description: 'drop the old table', sql: `DROP TABLE IF EXISTS ${helperName(workNames.oldTable(oid))}` };
}

export function dropWorkObjects(oid: number): Step {
  return {
    description: 'drop the log, the chunked copy progress and the capture function',
    sql: [
      `DROP TABLE IF EXISTS ${helperName(workNames.logTable(oid))}`,
      `DROP TABLE IF EXISTS ${helperName(workNames.copyTable(oid))}`,
      `DROP TABLE IF EXISTS ${helperName(workNames.progressTable(oid))}`,
      `DROP FUNCTION IF EXISTS ${helperName(workNames.captureFunction(oid))}()`,
    ].join(';\n'),
  };
}
