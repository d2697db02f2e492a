/**
 * Repacking a partition. Its swap cannot be a rename alone: a partition is bound to its parent
 * by OID. So the swap, holding the parent's lock as well as the table's, detaches the old
 * partition, gives the copy the name as for any table, and attaches the copy with the same
 * bound. Under those locks nothing may grow with the data:
 *
 * - ATTACH scans the new partition to prove its rows fit the bound, unless a validated CHECK
 *   constraint implies the partition constraint. The copy carries one from its creation
 *   (`rpcl_bound_<oid>`, the text of pg_get_partition_constraintdef, parents' bounds included),
 *   so the copy and every replayed row are checked as they are written, and the swap drops it
 *   after ATTACH.
 * - ATTACH builds any of the parent's partitioned indexes the partition lacks, and re-checks
 *   constraints the partition lacks. The copy has every index of the old partition (which has
 *   one attached to each of the parent's), with its constraint for a PRIMARY KEY or UNIQUE,
 *   and LIKE gave it every CHECK and NOT NULL: ATTACH only links them (catalog work).
 * - ATTACH scans the parent's default partition, if it has one beside this partition, to prove
 *   it holds no row of the bound, unless its constraints imply that. rpcl adds one to it for
 *   the time of the run (`rpcl_excl_<oid>`: NOT the partition constraint), NOT VALID and then
 *   validated (a scan that blocks no writer); the swap drops it. It excludes only rows the
 *   default partition can never hold, so it rejects no write. It is a work object on an
 *   application table: every cleanup removes it (cleanup.ts), and a run on the default
 *   partition itself is refused while it is there (its copy would inherit it).
 * - What cannot be done in bounded time, or not without harming the application, is refused
 *   before any work (partitionRefusal):
 *   - foreign keys that reference the partitioned table: DETACH checks every referencing row
 *     against the partition;
 *   - foreign keys of the partitioned table: ATTACH adds each to the new partition and
 *     validates it by a scan unless the partition has an equal, valid one. The copy cannot
 *     have one before the swap: it lags the table, so a row the application deleted may still
 *     be in it, and a referenced row's DELETE or key UPDATE (NO ACTION, RESTRICT) would then
 *     fail in the application; and validating it before the swap races with those deletes.
 *
 * Row triggers of the parent are cloned onto the copy by ATTACH; the partition's own triggers
 * are re-created by the swap like any table's (live.ts reads only those, tgparentid = 0).
 */
import { displayIdent, quoteIdent, quoteQualified } from '../db/ident.js';
import type { PartitionFact, TableFacts } from '../inspect/facts.js';
import { helperName, tableRef } from './capture.js';
import { workNames } from './names.js';
import type { Step } from './step.js';

function display(t: { schema: string; name: string }): string {
  return `${displayIdent(t.schema)}.${displayIdent(t.name)}`;
}

export function partitionRefusal(p: PartitionFact, facts: Pick<TableFacts, 'columns'>): string | null {
  const parent = display(p.parent);
  if (!p.canActAsParentOwner) {
    return `it is a partition of ${parent}, owned by ${displayIdent(p.parentOwner)}: the swap detaches and attaches it, which needs ` +
      `the parent's owner; connect as ${displayIdent(p.parentOwner)} or a member of it`;
  }
  const incoming = p.foreignKeysToAncestors[0];
  if (incoming) {
    return `foreign key ${displayIdent(incoming.name)} of ${display(incoming.table)} references its partitioned table: detaching a ` +
      'partition makes PostgreSQL check every referencing row against it while the whole partitioned table is locked, for as ' +
      'long as that scan takes. rpcl does not repack partitions of a referenced partitioned table; drop the foreign key around ' +
      'the repack (and re-add it NOT VALID, then VALIDATE), or use VACUUM FULL on the partition in a maintenance window';
  }
  const outgoing = p.foreignKeysOfAncestors[0];
  if (outgoing) {
    return `its partitioned table ${display(outgoing.table)} has foreign key ${displayIdent(outgoing.name)}: attaching the copy would make ` +
      'PostgreSQL validate every row of it while the whole partitioned table is locked, and giving the copy that foreign key ' +
      "before the swap would make the application's deletes of referenced rows fail while the copy lags behind. rpcl does not " +
      'repack such partitions; drop the foreign key around the repack (and re-add it NOT VALID, then VALIDATE), or use ' +
      'VACUUM FULL on the partition in a maintenance window';
  }
  if (p.workConstraints.length > 0) {
    return `it carries rpcl's constraint ${p.workConstraints.join(', ')}, added while another partition of ${parent} is repacked: ` +
      'wait for that run to end (or run rpcl abort_repack if it died)';
  }
  // On PostgreSQL 17 and later a partition shares its partitioned table's identity sequence,
  // which the copy cannot: ATTACH refuses a table with an identity of its own.
  if (facts.columns.some((c) => c.identity !== '')) {
    return 'it is a partition with an identity column: rpcl does not repack those yet';
  }
  const exclusion = p.inheritedExclusionConstraints[0];
  if (exclusion) {
    return `its partitioned table has the exclusion constraint ${displayIdent(exclusion)}, which ATTACH would build again on the copy ` +
      'while the whole partitioned table is locked: rpcl does not repack such partitions yet';
  }
  if (p.hashOnCollatableKey) {
    return 'it is a hash partition on a key of a collatable type (text, varchar, ...): PostgreSQL cannot prove such a bound from a ' +
      'CHECK constraint, so ATTACH would scan the copy while the whole partitioned table is locked. rpcl does not repack these';
  }
  return null;
}

/**
 * The default partition's proof that it holds none of this partition's rows: NOT VALID first
 * (ACCESS EXCLUSIVE on it, catalog work only, under lock_timeout), then validated (SHARE UPDATE
 * EXCLUSIVE, which blocks no writer, while it scans).
 */
export function defaultExclusion(facts: TableFacts): { add: Step; validate: Step; name: string } | null {
  const p = facts.partition;
  if (p === null || p.defaultSibling === null || !p.constraint) return null;
  const target = quoteQualified(p.defaultSibling);
  const name = quoteIdent(workNames.defaultExclusion(facts.oid));
  return {
    name: workNames.defaultExclusion(facts.oid),
    add: {
      description: `a CHECK constraint on the default partition ${p.defaultSibling.name}: none of its rows belongs here, NOT VALID`,
      sql: `ALTER TABLE ${target} ADD CONSTRAINT ${name} CHECK (NOT (${p.constraint})) NOT VALID`,
      locks: [{ table: target, level: 'ACCESS EXCLUSIVE' }],
    },
    validate: {
      description: `validate the CHECK constraint on the default partition ${p.defaultSibling.name}`,
      sql: `ALTER TABLE ${target} VALIDATE CONSTRAINT ${name}`,
      locks: [{ table: target, level: 'SHARE UPDATE EXCLUSIVE' }],
    },
  };
}

/** Everything the run adds before its replay so that ATTACH scans nothing, in order (for --dry-run). */
export function attachProofSteps(facts: TableFacts): Step[] {
  const exclusion = defaultExclusion(facts);
  return exclusion ? [exclusion.add, exclusion.validate] : [];
}

/** The copy's proof that its rows fit the partition's bound, checked as rows are written. */
export function boundCheck(facts: TableFacts): Step | null {
  const constraint = facts.partition?.constraint;
  if (!constraint) return null;
  return {
    description: 'a CHECK constraint with the partition constraint: ATTACH needs no scan',
    sql: `ALTER TABLE ${helperName(workNames.copyTable(facts.oid))} ADD CONSTRAINT ${quoteIdent(workNames.boundCheck(facts.oid))} CHECK (${constraint})`,
  };
}

/**
 * The relations the swap locks besides the table, for a partition: the parent (DETACH takes
 * ACCESS EXCLUSIVE on it: every query on the partitioned table waits meanwhile) and the
 * parent's default partition (whose implicit constraint DETACH changes). An application
 * query on the parent locks the parent, then the partitions: like a view, the parent is
 * locked before the table. ONLY: LOCK TABLE would otherwise lock every partition.
 */
export function partitionLockTargets(facts: TableFacts): { ref: string; only: true }[] {
  const p = facts.partition;
  if (p === null) return [];
  const targets = [{ ref: quoteQualified(p.parent), only: true as const }];
  if (p.defaultSibling) targets.push({ ref: quoteQualified(p.defaultSibling), only: true as const });
  return targets;
}

export function detachPartition(facts: TableFacts): Step[] {
  const p = facts.partition;
  if (p === null) return [];
  return [{
    description: `detach the old partition from ${p.parent.name}`,
    sql: `ALTER TABLE ${quoteQualified(p.parent)} DETACH PARTITION ${tableRef(facts)}`,
  }];
}

/** What the server says at DEBUG1 when ATTACH reads rows under the swap's locks. */
export const ATTACH_SCANS = /^(validating foreign key constraint|verifying table)/;

/** After the copy has the table's name: it takes the old partition's place, with the same bound. */
export function attachPartition(facts: TableFacts): Step[] {
  const p = facts.partition;
  if (p === null) return [];
  const steps: Step[] = [];
  const sibling = p.defaultSibling;
  if (sibling && p.constraint) {
    // Fails the attempt if the constraint is gone (ATTACH would then scan); a no-op otherwise.
    steps.push({
      description: `the default partition ${sibling.name} still has its proof`,
      sql: `ALTER TABLE ${quoteQualified(sibling)} VALIDATE CONSTRAINT ${quoteIdent(workNames.defaultExclusion(facts.oid))}`,
    });
  }
  // The server says at DEBUG1 whether ATTACH found the partition constraints implied (no
  // scan) or validated a foreign key: the swap logs what it says (reportServerMessages).
  steps.push(
    { description: 'let the server say whether ATTACH scans', sql: `SELECT set_config('client_min_messages', 'debug1', true)` },
    {
      description: `attach the new table to ${p.parent.name} ${p.bound}`,
      sql: `ALTER TABLE ${quoteQualified(p.parent)} ATTACH PARTITION ${tableRef(facts)} ${p.bound}`,
    },
    { description: 'server messages back to normal', sql: `SELECT set_config('client_min_messages', 'notice', true)` },
  );
  if (p.constraint) {
    steps.push({
      description: 'drop the bound CHECK constraint (the partition constraint holds from now on)',
      sql: `ALTER TABLE ${tableRef(facts)} DROP CONSTRAINT ${quoteIdent(workNames.boundCheck(facts.oid))}`,
    });
  }
  if (sibling && p.constraint) {
    steps.push({
      description: `drop the CHECK constraint on the default partition ${sibling.name}`,
      sql: `ALTER TABLE ${quoteQualified(sibling)} DROP CONSTRAINT ${quoteIdent(workNames.defaultExclusion(facts.oid))}`,
    });
  }
  return steps;
}
