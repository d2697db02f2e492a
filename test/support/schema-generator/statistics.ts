/** Extended statistics on the table's columns or expressions. */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { qi } from './quote.js';

export function addExtendedStatistics(g: Gen, { ns, T }: Target, { keys }: Key, { has, v }: Columns): void {
  const { d, sql, since, comment, note, feature } = g;
  if (d.chance(0.6)) {
    const second = has.has('varchar') ? 'label' : has.has('bool') ? 'flag' : keys[0]!;
    const kinds = d.pick(['', ' (ndistinct)', ' (dependencies, mcv)']);
    const exprs = since(14, 0.4) ? `(${v} % 10), ${second}` : `${v}, ${second}`;
    sql.push(`CREATE STATISTICS ${ns}.${qi('target stats')}${kinds} ON ${exprs} FROM ${T};`);
    comment(`STATISTICS ${ns}.${qi('target stats')}`, note('statistics'));
    if (d.chance(0.5)) sql.push(`ALTER STATISTICS ${ns}.${qi('target stats')} SET STATISTICS 250;`);
    feature(`extended statistics${exprs.startsWith('(') ? ' on expressions' : ''}`);
  }
}
