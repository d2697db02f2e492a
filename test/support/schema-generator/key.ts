/** The table's key: its kind (identity, serial, composite, uuid, text, plain int) and columns. */
import type { Gen } from './context.js';
import type { Target } from './names.js';
import { qi } from './quote.js';

export interface KeyColumn {
  name: string;
  /** Type of a column that references it. */
  refType: string;
  def: string;
  load: string | null;
  insert: string | null;
  /** New value on a key change (DEFAULT draws from the sequence). */
  change: string;
  /** A value no row has, for orphans of NOT VALID foreign keys. */
  orphan: string;
  /**
   * The value the g-th loaded row (g from 1) gets, as an SQL literal, when the load makes it
   * grow with g: partition bounds are cut from it. Null otherwise.
   */
  at: ((g: number) => string) | null;
}

const ORPHAN_KEYS: Record<string, string> = { int: '-7', bigint: '-7', uuid: `'00000000-0000-0000-0000-00000000dead'`, text: `'orphan'` };

export interface Key {
  keyCols: KeyColumn[];
  /** A sequence that feeds the key (serial or identity). */
  keySequence: { column: string } | null;
  /** Key columns, quoted. */
  keys: string[];
  keyList: string;
  /** More than one key column. */
  composite: boolean;
}

export function drawKey(g: Gen, { ns }: Target): Key {
  const { d, feature } = g;
  const keyKind = d.pick([
    'identity int by default', 'identity int always', 'identity bigint by default', 'identity bigint always',
    'serial', 'bigserial', 'composite', 'uuid', 'text', 'plain int',
  ] as const);
  feature(`key ${keyKind}`);
  const identityOptions = d.pick([
    '', '', ' (START WITH 1000 INCREMENT BY 3)', ` (SEQUENCE NAME ${ns}.${qi('Target Ids')} START WITH 50 CACHE 10)`,
    ' (MINVALUE 10 MAXVALUE 900000000 START WITH 10 NO CYCLE)',
  ]);
  const idName = d.pick(['id', 'ID', 'order id']);
  const keyCols: KeyColumn[] = [];
  let keySequence: { column: string } | null = null;
  switch (keyKind) {
    case 'identity int by default':
    case 'identity int always':
    case 'identity bigint by default':
    case 'identity bigint always': {
      const type = keyKind.includes('bigint') ? 'bigint' : 'int';
      const kind = keyKind.endsWith('always') ? 'ALWAYS' : 'BY DEFAULT';
      // The sequence hands out START, START + INCREMENT... in the load's order.
      const start = Number(/START WITH (\d+)/.exec(identityOptions)?.[1] ?? '1');
      const step = Number(/INCREMENT BY (\d+)/.exec(identityOptions)?.[1] ?? '1');
      keyCols.push({
        name: idName, refType: type, def: `${type} GENERATED ${kind} AS IDENTITY${identityOptions}`,
        load: null, insert: null, change: 'DEFAULT', orphan: ORPHAN_KEYS[type]!, at: (g) => String(start + step * (g - 1)),
      });
      keySequence = { column: idName };
      if (identityOptions !== '') feature('identity options');
      break;
    }
    case 'serial':
    case 'bigserial':
      keyCols.push({
        name: idName, refType: keyKind === 'serial' ? 'int' : 'bigint', def: keyKind, load: null, insert: null,
        change: 'DEFAULT', orphan: '-7', at: (g) => String(g),
      });
      keySequence = { column: idName };
      break;
    case 'uuid':
      keyCols.push({
        name: idName, refType: 'uuid', def: 'uuid DEFAULT gen_random_uuid()', load: `md5('k' || g)::uuid`, insert: null,
        change: 'gen_random_uuid()', orphan: ORPHAN_KEYS.uuid!, at: null,
      });
      break;
    case 'text':
      keyCols.push({
        name: 'code key', refType: 'text COLLATE "C"', def: 'text COLLATE "C"', load: `'k' || lpad(g::text, 7, '0')`,
        insert: `'n' || md5(random()::text)`, change: `'m' || md5(random()::text)`, orphan: ORPHAN_KEYS.text!,
        at: (g) => `'k${String(g).padStart(7, '0')}'`,
      });
      break;
    case 'plain int':
      keyCols.push({
        name: idName, refType: 'int', def: 'int', load: '(g * 2)::int', insert: '(1000001 + 2 * ($1::int % 1000000))',
        change: `-${qi(idName)} - 1`, orphan: '-7', at: (g) => String(2 * g),
      });
      break;
    case 'composite':
      keyCols.push(
        { name: 'tenant', refType: 'smallint', def: 'smallint', load: '(1 + g % 7)::smallint', insert: '(1 + $1::int % 7)::smallint', change: 'tenant', orphan: '99', at: null },
        { name: 'Line No', refType: 'int', def: 'int', load: 'g::int', insert: '(1000000 + $1::int)', change: `${qi('Line No')} + 3000000`, orphan: '-7', at: (g) => String(g) },
      );
      break;
  }
  const keys = keyCols.map((k) => qi(k.name));
  const keyList = keys.join(', ');
  const composite = keyCols.length > 1;
  return { keyCols, keySequence, keys, keyList, composite };
}
