/** Views on the table: plain, on a view, joined with a child table, materialized. */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { qi } from './quote.js';

/** Creates the views; returns the view the writers update through, or null. */
export function addViews(
  g: Gen,
  { other, T }: Target,
  { keyCols, keys }: Key,
  { has, v, nameQ, useEnum }: Columns,
  cascadeChild: string | null,
): string | null {
  const { d, sql, since, comment, note, feature } = g;
  const viewCols = [...keys, v, ...(has.has('name') ? [nameQ] : []), ...(useEnum ? ['mood'] : [])];
  let updatableView: string | null = null;
  if (d.chance(0.7)) {
    const v1 = `${other}.${qi(d.pick(['Target View', 'target_v']))}`;
    const opts = [d.pick(['security_barrier = true', 'security_barrier = false', '']), since(15, 0.3) ? 'security_invoker = true' : ''].filter(Boolean);
    sql.push(`CREATE VIEW ${v1}${opts.length ? ` WITH (${opts.join(', ')})` : ''} AS SELECT ${viewCols.map((c) => `t.${c}`).join(', ')} FROM ${T} t WHERE t.${v} >= 0;`);
    comment(`VIEW ${v1}`, note('view'));
    comment(`COLUMN ${v1}.${v}`, note('view column'));
    updatableView = v1;
    feature(`view${opts.length ? ` (${opts.join(', ')})` : ''}`);
    if (d.chance(0.4)) {
      sql.push(`ALTER VIEW ${v1} ALTER COLUMN ${v} SET DEFAULT 0;`);
      feature('view column default');
    }
    if (d.chance(0.4)) {
      sql.push(`GRANT SELECT, UPDATE ON ${T} TO rs_owner;`, `ALTER VIEW ${v1} OWNER TO rs_owner;`);
      feature('view owned by another role');
    }
    sql.push(`GRANT SELECT ON ${v1} TO rs_reader;`);
    if (d.chance(0.7)) {
      const v2 = `${other}.${qi(d.pick(['View On View', 'target_v2']))}`;
      const check = d.pick(['WITH CASCADED CHECK OPTION', 'WITH LOCAL CHECK OPTION', '']);
      sql.push(`CREATE VIEW ${v2} AS SELECT * FROM ${v1} WHERE ${v} < 100000000 ${check};`);
      comment(`VIEW ${v2}`, note('view on a view'));
      updatableView = v2;
      feature(`view on view${check ? ` ${check.toLowerCase()}` : ''}`);
    }
  }
  if (cascadeChild !== null && d.chance(0.4)) {
    const v3 = `${other}.with_children`;
    const opts = since(15, 0.5) ? ' WITH (security_invoker = true)' : '';
    sql.push(`CREATE VIEW ${v3}${opts} AS SELECT ${keys.map((k) => `t.${k}`).join(', ')}, count(c.id) AS children FROM ${T} t
      LEFT JOIN ${cascadeChild} c ON ${keyCols.map((k) => `c.${qi(`t_${k.name}`)} = t.${qi(k.name)}`).join(' AND ')} GROUP BY ${keys.map((k) => `t.${k}`).join(', ')};`);
    feature('join view');
  }
  if (d.chance(0.5)) {
    const mv = `${other}.${qi(d.pick(['Buckets', 'target_mv']))}`;
    const noData = d.chance(0.2);
    sql.push(`CREATE MATERIALIZED VIEW ${mv} AS SELECT ${v} % 10 AS bucket, count(*) AS n FROM ${T} GROUP BY 1${noData ? ' WITH NO DATA' : ''};`);
    sql.push(`CREATE UNIQUE INDEX mv_bucket ON ${mv} (bucket);`);
    comment(`MATERIALIZED VIEW ${mv}`, note('materialized view'));
    comment(`INDEX ${other}.mv_bucket`, note('materialized view index'));
    feature(`materialized view${noData ? ' WITH NO DATA' : ''}`);
  }
  return updatableView;
}
