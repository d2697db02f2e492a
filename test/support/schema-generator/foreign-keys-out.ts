/**
 * Foreign keys out of the table: to a parent table, and to itself (with what the dual-write
 * oracle must re-mirror after a delete its actions spread).
 */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import type { Partitioning } from './partitioning.js';
import { qi } from './quote.js';

export interface ForeignKeysOut {
  useParent: boolean;
  parentNotValid: boolean;
  /** The parent foreign key's definition, in the table or added NOT VALID after the data. */
  parentFkSql: string;
  useSelf: boolean;
  selfNotValid: boolean;
  /** The referencing columns of the self reference. */
  selfCols: string[];
  selfFkSql: string;
  /** Run after a writer's delete (see Workload.afterRemove). */
  afterRemove: string[];
}

export function drawForeignKeysOut(
  g: Gen,
  { ns, T }: Target,
  { keyCols, keys, keyList, composite }: Key,
  { add }: Columns,
  part: Partitioning | null,
): ForeignKeysOut {
  const { d, sql, feature, major } = g;
  // A partitioned table has foreign keys only sometimes (rpcl refuses its partitions then), and
  // NOT VALID ones only from PostgreSQL 18.
  const allowed = part === null || part.foreignKeys;
  const notValidAllowed = part === null || major >= 18;
  // Foreign key out to a parent.
  const drawnParent = d.chance(0.6);
  const parentNotValid = drawnParent && d.chance(0.4);
  const useParent = drawnParent && allowed && (notValidAllowed || !parentNotValid);
  const parentAction = d.pick(['', ' ON DELETE SET NULL', ' ON DELETE CASCADE', ' ON DELETE RESTRICT', ' ON UPDATE CASCADE']);
  const parentMatch = d.pick(['', ' MATCH FULL', ' MATCH SIMPLE']);
  const parentDeferrable = d.pick(['', ' DEFERRABLE INITIALLY DEFERRED', ' DEFERRABLE']);
  if (useParent) {
    sql.push(`CREATE TABLE ${ns}.parent (id int PRIMARY KEY, code text COLLATE "C" NOT NULL UNIQUE);`);
    sql.push(`INSERT INTO ${ns}.parent SELECT g, 'p' || g FROM generate_series(1, 60) g;`);
    add({
      name: 'parent_id', def: 'int',
      load: parentNotValid ? 'CASE WHEN g % 97 = 0 THEN (100000 + g)::int ELSE (1 + g % 60)::int END' : '(1 + g % 60)::int',
      insert: '(1 + $1::int % 60)', update: null,
    }, 'parent fk');
    feature(parentNotValid ? 'fk out NOT VALID with orphans' : 'fk out');
  }

  // Self reference.
  const drawnSelf = d.chance(0.5);
  const selfNotValid = drawnSelf && d.chance(0.3);
  const useSelf = drawnSelf && allowed && (notValidAllowed || !selfNotValid);
  const selfAction = d.pick(['', ' ON DELETE CASCADE', ' ON DELETE SET NULL', ' ON DELETE RESTRICT']);
  const selfCols = composite ? ['tenant', 'up_line'] : ['up'];
  let selfFkSql = '';
  const afterRemove: string[] = [];
  // Every statement of a writer step takes the key as parameters, used or not.
  const usesKey = () => keyCols.map((_, i) => `$${i + 1}::text IS NOT NULL`).join(' AND ');
  if (useSelf) {
    const lastKey = keyCols[keyCols.length - 1]!;
    add({ name: composite ? 'up_line' : 'up', def: lastKey.refType, load: null, insert: null, update: null }, 'self fk');
    let action = selfAction;
    if (action === ' ON DELETE SET NULL' && composite) action = major >= 15 ? ' ON DELETE SET NULL (up_line)' : ' ON DELETE CASCADE';
    selfFkSql = `CONSTRAINT self_ref FOREIGN KEY (${selfCols.map(qi).join(', ')}) REFERENCES ${T} (${keyList})${action}`;
    feature(`self fk${action.toLowerCase()}${selfNotValid ? ' NOT VALID' : ''}`);
    if (action.includes('CASCADE')) {
      afterRemove.push(`DELETE FROM rs_control.control c WHERE NOT EXISTS (SELECT 1 FROM ${T} t WHERE ${keys.map((k) => `t.${k} = c.${k}`).join(' AND ')}) AND ${usesKey()}`);
    } else if (action.includes('SET NULL')) {
      const refMatch = selfCols.map((c, i) => `c.${qi(c)} = $${i + 1}`).join(' AND ');
      afterRemove.push(
        `WITH gone AS (DELETE FROM rs_control.control c WHERE ${refMatch} RETURNING ${keys.map((k) => `c.${k}`).join(', ')})
         INSERT INTO rs_control.control SELECT t.* FROM ${T} t WHERE (${keys.map((k) => `t.${k}`).join(', ')}) IN (SELECT * FROM gone)`,
      );
    }
  }
  const parentFkSql = `CONSTRAINT ${qi('to parent')} FOREIGN KEY (parent_id) REFERENCES ${ns}.parent (id)${parentMatch}${parentAction}${parentDeferrable}`;
  return { useParent, parentNotValid, parentFkSql, useSelf, selfNotValid, selfCols, selfFkSql, afterRemove };
}
