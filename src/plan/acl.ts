/**
 * Rebuilds an access control list on a new relation (see inspect/acl.ts). The new relation
 * starts with the default list (NULL: the owner holds everything). An explicit list is first
 * emptied of the owner's default privileges, then granted item by item in the original order:
 * PostgreSQL appends a new grantee-grantor pair at the end and merges into an existing one, so
 * the array comes out equal. A grant made by another grantor is made as that role (SET LOCAL
 * ROLE), so it stays attributed to it; grants by the owner are recorded as the owner's
 * whoever of its members (or a superuser) makes them.
 */
import { quoteIdent } from '../db/ident.js';
import type { AclItem, ObjectAcl } from '../inspect/acl.js';
import type { Step } from './step.js';

/** Consecutive privileges of one grantee, grantor and grant option: one GRANT. */
function groups(items: AclItem[]): AclItem[][] {
  const out: AclItem[][] = [];
  for (const i of items) {
    const last = out[out.length - 1]?.[0];
    if (last && last.grantee === i.grantee && last.grantor === i.grantor && last.grantable === i.grantable) out[out.length - 1]!.push(i);
    else out.push([i]);
  }
  return out;
}

function grantSteps(items: AclItem[], on: string, owner: string, column?: string): Step[] {
  const steps: Step[] = [];
  const cols = column === undefined ? '' : ` (${quoteIdent(column)})`;
  for (const g of groups(items)) {
    const first = g[0]!;
    const grantee = first.grantee === null ? 'PUBLIC' : quoteIdent(first.grantee);
    const sql = `GRANT ${g.map((i) => `${i.privilege}${cols}`).join(', ')} ON ${on} TO ${grantee}${first.grantable ? ' WITH GRANT OPTION' : ''}`;
    const what = `grant ${g.map((i) => i.privilege).join(', ')}${column === undefined ? '' : ` on column ${column}`} to ${first.grantee ?? 'PUBLIC'}`;
    if (first.grantor === owner) {
      steps.push({ description: what, sql });
    } else {
      steps.push(
        { description: `${what}: made as its grantor ${first.grantor}`, sql: `SET LOCAL ROLE ${quoteIdent(first.grantor)}` },
        { description: what, sql },
        { description: 'back to rpcl\'s own role', sql: 'RESET ROLE' },
      );
    }
  }
  return steps;
}

/** `on` is `TABLE name` or `SEQUENCE name`, already quoted. */
export function aclSteps(on: string, owner: string, acl: ObjectAcl): Step[] {
  const steps: Step[] = [];
  if (acl.items !== null) {
    steps.push({ description: 'explicit privileges: start from none', sql: `REVOKE ALL ON ${on} FROM ${quoteIdent(owner)}` });
    steps.push(...grantSteps(acl.items, on, owner));
  }
  for (const c of acl.columns) steps.push(...grantSteps(c.items, on, owner, c.column));
  return steps;
}
