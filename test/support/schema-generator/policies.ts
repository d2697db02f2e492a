/** Row-level security on the table: enabled (perhaps forced), with permissive and restrictive policies. */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Target } from './names.js';
import { qi } from './quote.js';

export function addPolicies(g: Gen, { T }: Target, { v }: Columns): void {
  const { d, sql, comment, note, feature } = g;
  if (d.chance(0.5)) {
    const force = d.chance(0.4);
    sql.push(`ALTER TABLE ${T} ENABLE ROW LEVEL SECURITY;`);
    if (force) sql.push(`ALTER TABLE ${T} FORCE ROW LEVEL SECURITY;`);
    sql.push(`CREATE POLICY ${qi('read own')} ON ${T} FOR SELECT TO rs_reader USING (${v} >= 0);`);
    sql.push(`CREATE POLICY writers ON ${T} AS RESTRICTIVE FOR UPDATE TO ${qi('rs "writer"')} USING (true) WITH CHECK (${v} >= 0);`);
    sql.push(`CREATE POLICY everyone ON ${T} USING (true);`);
    comment(`POLICY ${qi('read own')} ON ${T}`, note('policy'));
    comment(`POLICY writers ON ${T}`, note('restrictive policy'));
    feature(force ? 'RLS ENABLE + FORCE (superuser run)' : 'RLS ENABLE');
  }
}
