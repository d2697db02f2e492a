/**
 * Tables whose foreign keys reference the table: ON DELETE CASCADE, RESTRICT and friends, NOT
 * VALID over orphans, to a UNIQUE constraint, from a partitioned table.
 */
import type { Columns } from './columns.js';
import type { CodeUnique } from './constraints.js';
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import type { Partitioning } from './partitioning.js';
import { qi } from './quote.js';

export interface ForeignKeysIn {
  /** The child table whose rows are deleted with their parent row, or null. */
  cascadeChild: string | null;
  /** Some table references this one. */
  referenced: boolean;
  /** Refusals rpcl documents for these on this server (see GeneratedSchema.expectedRefusals). */
  expectedRefusals: { feature: string; pattern: RegExp }[];
}

export function addForeignKeysIn(
  g: Gen,
  { other, T }: Target,
  { keyCols, keyList }: Key,
  { v, useCode }: Columns,
  codeUnique: CodeUnique | null,
  part: Partitioning | null,
): ForeignKeysIn {
  const { d, sql, comment, note, feature, major } = g;
  // A partitioned table is referenced only sometimes (rpcl refuses its partitions then).
  const allowed = part === null || part.foreignKeys;
  const fkCols = (prefix: string) => keyCols.map((k) => ({ name: `${prefix}${k.name}`, type: k.refType }));
  const fkList = (prefix: string) => fkCols(prefix).map((c) => qi(c.name)).join(', ');
  const fkDefs = (prefix: string) => fkCols(prefix).map((c) => `${qi(c.name)} ${c.type}`).join(', ');
  const children: string[] = [];
  const expectedRefusals: { feature: string; pattern: RegExp }[] = [];
  let cascadeChild: string | null = null;
  if (d.chance(0.7) && allowed) {
    const child = `${other}.${qi(d.pick(['Child Rows', 'child_cascade']))}`;
    cascadeChild = child;
    const onUpdate = d.chance(0.3) ? ' ON UPDATE CASCADE' : '';
    sql.push(`CREATE TABLE ${child} (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ${fkDefs('t_')}, note text,
      CONSTRAINT ${qi('child to target')} FOREIGN KEY (${fkList('t_')}) REFERENCES ${T} (${keyList}) ON DELETE CASCADE${onUpdate});`);
    sql.push(`INSERT INTO ${child} (${fkList('t_')}, note) SELECT ${keyList}, 'child' FROM ${T} WHERE ${v} % 4 = 0;`);
    sql.push(`CREATE INDEX ON ${child} (${fkList('t_')});`);
    comment(`CONSTRAINT ${qi('child to target')} ON ${child}`, note('incoming foreign key'));
    comment(`TABLE ${child}`, note('child table'));
    children.push(child);
    feature(`fk in ON DELETE CASCADE${onUpdate}`);
  }
  if (d.chance(0.4) && allowed) {
    const child = `${other}.child_restrict`;
    const variant = d.pick(['ON DELETE RESTRICT', 'ON DELETE NO ACTION', 'DEFERRABLE INITIALLY DEFERRED', 'ON DELETE SET NULL']);
    sql.push(`CREATE TABLE ${child} (id int PRIMARY KEY, ${fkDefs('r_')},
      CONSTRAINT restrict_fk FOREIGN KEY (${fkList('r_')}) REFERENCES ${T} (${keyList}) ${variant});`);
    sql.push(`INSERT INTO ${child} SELECT row_number() OVER (), ${keyList} FROM ${T} WHERE ${v} % 50 = 7;`);
    children.push(child);
    feature(`fk in ${variant}`);
  }
  if (d.chance(0.4) && allowed) {
    const child = `${other}.child_orphans`;
    sql.push(`CREATE TABLE ${child} (id int PRIMARY KEY, ${fkDefs('o_')});`);
    sql.push(`INSERT INTO ${child} SELECT row_number() OVER (), ${keyList} FROM ${T} WHERE ${v} % 40 = 9;`);
    sql.push(`INSERT INTO ${child} VALUES (-1, ${keyCols.map((k) => k.orphan).join(', ')});`);
    sql.push(`ALTER TABLE ${child} ADD CONSTRAINT orphans_fk FOREIGN KEY (${fkList('o_')}) REFERENCES ${T} (${keyList}) ON DELETE CASCADE NOT VALID;`);
    comment(`CONSTRAINT orphans_fk ON ${child}`, note('NOT VALID incoming foreign key'));
    children.push(child);
    feature('fk in NOT VALID with orphans');
  }
  // A partitioned table has no unique constraint on code alone.
  if (useCode && (codeUnique === 'plain' || codeUnique === 'include') && d.chance(0.5) && part === null) {
    const child = `${other}.child_codes`;
    sql.push(`CREATE TABLE ${child} (id int PRIMARY KEY, code text COLLATE "C" REFERENCES ${T} (code) ON UPDATE CASCADE ON DELETE SET NULL);`);
    sql.push(`INSERT INTO ${child} SELECT row_number() OVER (), code FROM ${T} WHERE ${v} % 30 = 2;`);
    children.push(child);
    feature('fk in to a UNIQUE constraint');
  }
  if (d.chance(0.4) && allowed) {
    const child = `${other}.${qi(d.pick(['Sales', 'sales_by_day']))}`;
    const late = d.chance(0.5);
    const fk = `CONSTRAINT sales_fk FOREIGN KEY (${fkList('s_')}) REFERENCES ${T} (${keyList}) ON DELETE CASCADE`;
    sql.push(`CREATE TABLE ${child} (id bigint NOT NULL, ${fkDefs('s_')}, sold date NOT NULL, amount int, PRIMARY KEY (id, sold)${late ? '' : `, ${fk}`}) PARTITION BY RANGE (sold);`);
    sql.push(`CREATE TABLE ${other}.sales_2024 PARTITION OF ${child} FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');`);
    sql.push(`CREATE TABLE ${other}.sales_2025 PARTITION OF ${child} FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');`);
    sql.push(`CREATE TABLE ${other}.sales_other PARTITION OF ${child} DEFAULT;`);
    if (late) sql.push(`ALTER TABLE ${child} ADD ${fk};`);
    sql.push(`INSERT INTO ${child} SELECT row_number() OVER (), ${keyList}, date '2024-01-01' + (${v} % 800), ${v} FROM ${T} WHERE ${v} % 5 = 0;`);
    comment(`CONSTRAINT sales_fk ON ${child}`, note('foreign key from a partitioned table'));
    children.push(child);
    feature('fk in from a partitioned table');
    if (major < 18) {
      expectedRefusals.push({
        feature: 'fk in from a partitioned table',
        pattern: /refused: partitioned table .* references it \(foreign key sales_fk\): before PostgreSQL 18/,
      });
    }
  }
  return { cascadeChild, referenced: children.length > 0, expectedRefusals };
}
