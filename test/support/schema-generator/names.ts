/** The names of the schemas and the table to repack, the roles, and the schemas themselves. */
import type { Gen } from './context.js';
import { qi, ql } from './quote.js';

export interface Target {
  /** The table's name, unquoted. */
  tableName: string;
  /** The table's schema, quoted. */
  ns: string;
  /** The schema of the dependents, quoted. */
  other: string;
  /** The table, schema-qualified and quoted. */
  T: string;
  /** T as a string literal. */
  tLit: string;
}

export function nameTarget(g: Gen): Target {
  const { d, feature, sql, seed, major } = g;
  const nsName = d.pick(['app', 'Sales Schema', 'with"quote', 'order', 'rs_data']);
  const tableName = d.pick(['target', 'Mixed Case', 'with"quote', 'order', 'user', 'Order Lines']);
  const ns = qi(nsName);
  const other = qi(d.pick(['rs elsewhere', 'deps', 'Select']));
  const T = `${ns}.${qi(tableName)}`;
  const tLit = ql(T);
  feature(`table ${T}`);

  sql.push(`-- rpcl random schema, seed ${seed}, PostgreSQL ${major}`);
  for (const role of ['rs_owner', 'rs_reader', 'rs "writer"']) {
    sql.push(`DO $$ BEGIN CREATE ROLE ${qi(role)}; EXCEPTION WHEN duplicate_object THEN NULL; END $$;`);
  }
  sql.push(`CREATE SCHEMA ${ns};`, `CREATE SCHEMA ${other};`);
  sql.push(`GRANT USAGE ON SCHEMA ${ns}, ${other} TO rs_owner, rs_reader, ${qi('rs "writer"')};`);
  return { tableName, ns, other, T, tLit };
}
