/**
 * The table's constraints: those in CREATE TABLE (primary key, checks, unique and exclusion
 * constraints, foreign keys out), and those added after the data over rows that violate them
 * (NOT VALID, NOT ENFORCED).
 */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { ForeignKeysOut } from './foreign-keys-out.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { type Partitioning, withPartitionKey } from './partitioning.js';
import { qi } from './quote.js';

export type CodeUnique = 'plain' | 'deferred' | 'immediate' | 'include' | 'exclude';

export interface TableConstraints {
  /** The constraint definitions in CREATE TABLE. */
  cons: string[];
  /** Constraints a partitioned table cannot have, added to one of its partitions instead. */
  leafCons: string[];
  /** How the code column is kept unique, or null: no code column. */
  codeUnique: CodeUnique | null;
}

export function drawTableConstraints(
  g: Gen,
  { tableName, T }: Target,
  { keyList }: Key,
  { has, vName, v, useCode, useAltCode, useDuring }: Columns,
  { useParent, parentNotValid, parentFkSql, useSelf, selfNotValid, selfFkSql }: ForeignKeysOut,
  part: Partitioning | null,
): TableConstraints {
  const { d, since, comment, note, feature, major } = g;
  const cons: string[] = [];
  const leafCons: string[] = [];
  // Unique constraints of a partitioned table include the partition key; what cannot goes to a partition.
  const uk = (cols: string) => withPartitionKey(part, cols);
  const onLeaf = (c: string, name: string, f: string) => {
    leafCons.push(c);
    feature(`${f} on one partition`);
    return `CONSTRAINT ${qi(name)} ON ${part!.special}`;
  };
  const pkName = d.pick([null, 'PK of the table', `${tableName}_pk`]);
  const pkInclude = d.chance(0.2) ? ` INCLUDE (${v})` : '';
  const pkWith = d.chance(0.3) ? ' WITH (fillfactor = 80)' : '';
  cons.push(`${pkName ? `CONSTRAINT ${qi(pkName)} ` : ''}PRIMARY KEY (${keyList})${pkInclude}${pkWith}`);
  if (pkName) comment(`CONSTRAINT ${qi(pkName)} ON ${T}`, note('primary key'));
  if (pkInclude) feature('pk INCLUDE');
  if (d.chance(0.7)) {
    cons.push(`CONSTRAINT ${qi(`${vName} non-negative`)} CHECK (${v} >= 0)`);
    comment(`CONSTRAINT ${qi(`${vName} non-negative`)} ON ${T}`, note('check'));
  }
  if (has.has('smallint') && d.chance(0.5)) {
    const check = `CONSTRAINT small_range CHECK (n_small IS NULL OR n_small < 30000) NO INHERIT`;
    if (part) onLeaf(check, 'small_range', 'check NO INHERIT');
    else cons.push(check);
    feature('check NO INHERIT');
  }
  let codeUnique: CodeUnique | null = null;
  if (useCode) {
    codeUnique = d.pick(['plain', 'deferred', 'immediate', 'include', 'exclude'] as const);
    const clause = {
      plain: `UNIQUE (${uk('code')}) WITH (fillfactor = 70)`,
      deferred: `UNIQUE (${uk('code')}) DEFERRABLE INITIALLY DEFERRED`,
      immediate: `UNIQUE (${uk('code')}) DEFERRABLE INITIALLY IMMEDIATE`,
      include: `UNIQUE (${uk('code')}) INCLUDE (${v})`,
      exclude: `EXCLUDE USING btree (${uk('code').split(', ').map((c) => `${c} WITH =`).join(', ')})`,
    }[codeUnique];
    // Exclusion constraints on partitioned tables: PostgreSQL 17 and later, and rpcl refuses the
    // partitions of one that has one (ATTACH would build it again): on a partition.
    const where = codeUnique === 'exclude' && part
      ? onLeaf('CONSTRAINT code_unique EXCLUDE USING btree (code WITH =)', 'code_unique', 'EXCLUDE btree')
      : (cons.push(`CONSTRAINT code_unique ${clause}`), `CONSTRAINT code_unique ON ${T}`);
    comment(where, note('unique'));
    feature(`code ${codeUnique === 'exclude' ? 'EXCLUDE btree' : `unique ${codeUnique}`}`);
  }
  if (useAltCode) {
    const nnd = since(15, 0.7);
    cons.push(`CONSTRAINT alt_code_unique UNIQUE ${nnd ? 'NULLS NOT DISTINCT ' : ''}(${uk('alt_code')})`);
    if (nnd) feature('NULLS NOT DISTINCT');
  }
  if (useDuring) {
    const kind = d.pick(['plain', 'deferrable', 'partial', 'index'] as const);
    if (kind === 'index') {
      feature('gist index on range');
    } else {
      const where = kind === 'partial' && has.has('bool') ? ' WHERE (flag)' : '';
      const excl = `CONSTRAINT during_excl EXCLUDE USING gist (during WITH &&)${where}${kind === 'deferrable' ? ' DEFERRABLE INITIALLY DEFERRED' : ''}`;
      // The partition key would need btree_gist: on a partition.
      const on = part ? onLeaf(excl, 'during_excl', 'EXCLUDE gist') : (cons.push(excl), `CONSTRAINT during_excl ON ${T}`);
      comment(on, note('exclusion'));
      feature(`EXCLUDE gist${where ? ' partial' : ''}${kind === 'deferrable' ? ' deferrable' : ''}`);
    }
  }
  if (has.has('uuid') && d.chance(0.3)) {
    // A hash exclusion constraint has one column: on a partition.
    if (part) onLeaf(`CONSTRAINT uid_excl EXCLUDE USING hash (uid WITH =)`, 'uid_excl', 'EXCLUDE hash');
    else cons.push(`CONSTRAINT uid_excl EXCLUDE USING hash (uid WITH =)`);
    feature('EXCLUDE hash');
  }
  if (useParent && !parentNotValid) {
    cons.push(parentFkSql);
    comment(`CONSTRAINT ${qi('to parent')} ON ${T}`, note('foreign key'));
  }
  if (useSelf && !selfNotValid) cons.push(selfFkSql);
  return { cons, leafCons, codeUnique };
}

/** Constraints added once the data is in, over rows that violate them. */
export function addConstraintsAfterData(
  g: Gen,
  { T }: Target,
  { useLegacy, useNotEnforced, useNotNullNotValid }: Columns,
  { useParent, parentNotValid, parentFkSql }: ForeignKeysOut,
): void {
  const { sql, comment, note, feature } = g;
  if (useLegacy) {
    sql.push(`ALTER TABLE ${T} ADD CONSTRAINT legacy_positive CHECK (legacy >= 0) NOT VALID;`);
    comment(`CONSTRAINT legacy_positive ON ${T}`, note('NOT VALID check'));
    feature('check NOT VALID with violating rows');
    if (useNotEnforced) {
      sql.push(`ALTER TABLE ${T} ADD CONSTRAINT legacy_small CHECK (legacy < 5) NOT ENFORCED;`);
      feature('check NOT ENFORCED');
    }
  }
  if (useNotNullNotValid) {
    sql.push(`ALTER TABLE ${T} ADD CONSTRAINT ${qi('maybe not null')} NOT NULL maybe NOT VALID;`);
    comment(`CONSTRAINT ${qi('maybe not null')} ON ${T}`, note('NOT NULL NOT VALID'));
    feature('NOT NULL NOT VALID');
  }
  if (useParent && parentNotValid) {
    sql.push(`ALTER TABLE ${T} ADD ${parentFkSql} NOT VALID;`);
    comment(`CONSTRAINT ${qi('to parent')} ON ${T}`, note('NOT VALID foreign key'));
  }
}
