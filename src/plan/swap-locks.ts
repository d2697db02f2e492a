/**
 * The order in which the swap takes its locks (design notes, section 3).
 *
 * Once the table's ACCESS EXCLUSIVE is granted, every application query on the table queues
 * behind the swap. If the swap then waited for anything else, a session holding that other
 * object while waiting for the table would deadlock with it, and the queue would wait too. So:
 *
 * 1. Everything the swap changes besides the table is locked first, in the order the
 *    application locks it: the views and materialized views that read the table (a query
 *    through a view locks the view, then the table), then the tables whose foreign keys point
 *    at it or that it points at (a foreign-key check locks the other table). Each of these,
 *    and the table itself, waits at most what is left of lock_timeout, so the whole
 *    acquisition never stalls anyone longer than lock_timeout; once rpcl holds one of them,
 *    the executor also ends every wait within the server's deadlock_timeout of its first
 *    request, so if an application session does hold a lock in the other order, rpcl's wait
 *    times out before the application's deadlock check can pick an application session as
 *    the victim.
 * 2. The table. (Every other try takes the table first instead, see LockOrder.)
 * 3. From then on, lock_timeout is 1 ms for the rest of the transaction: a lock that is not
 *    free at once (a serial sequence some session is using, a relation a view's query names,
 *    anything not foreseen here) fails the attempt instead of being waited for. A failed
 *    attempt rolls back, replays more and retries with backoff.
 */
import { quoteIdent, quoteQualified } from '../db/ident.js';
import type { TableFacts, ViewFact } from '../inspect/facts.js';
import { tableRef } from './capture.js';
import type { LockLevel, Step } from './step.js';
import { partitionLockTargets } from './partition.js';

/** lock_timeout once the table is locked: nothing is waited for while it is held. */
export const AFTER_TABLE_LOCK_TIMEOUT = '1ms';

function lock(ref: string, level: LockLevel, only = false): Step {
  return { description: `lock ${ref}`, sql: `LOCK TABLE ${only ? 'ONLY ' : ''}${ref} IN ${level} MODE`, locks: [{ table: ref, level }] };
}

/**
 * ACCESS EXCLUSIVE on a view or materialized view alone. LOCK TABLE cannot do it: on a view it
 * also locks every table the view reads (the repacked table first of all), and it refuses
 * materialized views. ALTER ... OWNER TO the current owner changes nothing in the catalog and
 * takes exactly that lock.
 */
function lockView(v: ViewFact): Step {
  const ref = quoteQualified(v);
  return {
    description: `lock ${v.materialized ? 'materialized view' : 'view'} ${ref} (its owner stays ${v.owner})`,
    sql: `ALTER ${v.materialized ? 'MATERIALIZED VIEW' : 'VIEW'} ${ref} OWNER TO ${quoteIdent(v.owner)}`,
    locks: [{ table: ref, level: 'ACCESS EXCLUSIVE' }],
  };
}

/**
 * Which of the swap's locks comes first. Applications lock in both orders: a reader through a
 * view locks the view, then the table, but a transaction that wrote the table may then read
 * the view; a child-table insert locks the child, then the table (its foreign key check), a
 * cascading delete the table, then the child. So tries alternate: odd ones lock the
 * dependents first and then wait for the table; even ones wait for the table first and take
 * the dependents only if they are free at once. Either way nothing is waited for once the
 * table is held, and a workload that defeats one order lets the other through.
 */
export type LockOrder = 'dependents-first' | 'table-first';

export function lockOrderFor(tryNumber: number): LockOrder {
  return tryNumber % 2 === 1 ? 'dependents-first' : 'table-first';
}

export function swapLocks(facts: TableFacts, order: LockOrder = 'dependents-first'): Step[] {
  const views = [...facts.views].sort((a, b) => a.oid - b.oid).map(lockView);
  // A referencing table's constraint is dropped and re-added (ACCESS EXCLUSIVE); a referenced
  // one only gains the new constraint's triggers (SHARE ROW EXCLUSIVE). LOCK TABLE on a
  // partitioned table locks its partitions too, which hold clones of its constraint.
  const partners = new Map<number, { ref: string; level: LockLevel }>();
  for (const fk of facts.incomingForeignKeys) {
    if (fk.table.oid !== facts.oid) partners.set(fk.table.oid, { ref: quoteQualified(fk.table), level: 'ACCESS EXCLUSIVE' });
  }
  for (const fk of facts.outgoingForeignKeys) {
    const r = fk.referenced;
    if (r.oid !== facts.oid && !partners.has(r.oid)) partners.set(r.oid, { ref: quoteQualified(r), level: 'SHARE ROW EXCLUSIVE' });
  }
  // A partition's parent is locked like a view: queries on the parent lock it, then the partitions.
  const partition = partitionLockTargets(facts).map((t) => lock(t.ref, 'ACCESS EXCLUSIVE', t.only));
  const dependents = [...views, ...partition, ...[...partners.entries()].sort(([a], [b]) => a - b).map(([, t]) => lock(t.ref, t.level))];
  const table = lock(tableRef(facts), 'ACCESS EXCLUSIVE');
  const guard: Step = {
    description: 'from here on no lock is waited for: one that is not free at once fails the attempt',
    sql: `SELECT set_config('lock_timeout', '${AFTER_TABLE_LOCK_TIMEOUT}', true)`,
  };
  return order === 'dependents-first'
    ? [...dependents, table, guard]
    : [table, ...dependents.map((d) => ({ ...d, immediate: true, description: `${d.description}, only if free at once` })), guard];
}
