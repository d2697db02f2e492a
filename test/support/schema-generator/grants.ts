/** The table's owner and privileges: grants to roles, on columns and the key's sequence, by a grantee, revoked from the owner. */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { qi, ql } from './quote.js';

export function addOwnerAndGrants(g: Gen, { T, tLit }: Target, { keys, keySequence }: Key, { v }: Columns): void {
  const { d, sql, feature } = g;
  if (d.chance(0.3)) {
    sql.push(`ALTER TABLE ${T} OWNER TO rs_owner;`);
    feature('owned by another role');
  }
  if (d.chance(0.7)) {
    sql.push(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${T} TO ${qi('rs "writer"')};`);
    sql.push(`GRANT SELECT (${keys.join(', ')}, ${v}), UPDATE (${v}) ON ${T} TO rs_reader;`);
    if (d.chance(0.4)) {
      sql.push(`GRANT REFERENCES ON ${T} TO rs_reader WITH GRANT OPTION;`);
      if (d.chance(0.5)) {
        // A grant whose grantor is not the owner.
        sql.push(`SET ROLE rs_reader;`, `GRANT REFERENCES ON ${T} TO ${qi('rs "writer"')};`, `RESET ROLE;`);
        feature('grant by a grantee WITH GRANT OPTION');
      }
    }
    if (d.chance(0.3)) sql.push(`GRANT SELECT ON ${T} TO PUBLIC;`);
    if (keySequence) {
      sql.push(`DO $$ BEGIN EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', pg_get_serial_sequence(${ql(T)}, ${ql(keySequence.column)}), 'rs "writer"'); END $$;`);
    }
    feature('table, column and sequence grants');
  }
  if (d.chance(0.25)) {
    // The owner's own privileges, narrowed (the owner is whoever owns the table now; foreign key
    // actions run as the owner, so DELETE and UPDATE stay).
    sql.push(`DO $$ BEGIN EXECUTE format('REVOKE TRUNCATE, TRIGGER ON %s FROM %I', ${tLit}, (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = ${tLit}::regclass)); END $$;`);
    feature('privileges revoked from the owner');
  }
}
