/**
 * repack_indexes, pure part: which indexes a run rebuilds (and why the others not), and the
 * statements it runs. No database here: facts and options in, choices and SQL out.
 *
 * What REINDEX INDEX CONCURRENTLY does (PostgreSQL 13-18, indexcmds.c
 * ReindexRelationConcurrently), and what follows for rpcl:
 *
 * 1. It locks the table, then the index, SHARE UPDATE EXCLUSIVE, as session locks held to the
 *    end. That mode does not conflict with the application's reads and writes (ACCESS SHARE,
 *    ROW SHARE, ROW EXCLUSIVE); it conflicts with VACUUM, ANALYZE, CREATE INDEX [CONCURRENTLY],
 *    another REINDEX CONCURRENTLY and DDL. While it waits in the queue only those queue behind
 *    it. The wait is a heavyweight lock wait, so lock_timeout ends it (55P03).
 *    It then creates the new index `<name>_ccnew` (or `_ccnew1`, `_ccnew2`... if taken; the
 *    name is truncated to 63 bytes first) INVALID and not ready, and commits.
 * 2. It waits for every transaction holding a lock that conflicts with SHARE on the table (the
 *    writers that started before the new index existed) to end, then builds the new index in
 *    a new transaction with a snapshot.
 * 3. It waits for writers again, validates the index (adds rows inserted during the build), and
 *    then waits for every transaction whose snapshot is older than the validation snapshot, in
 *    the whole database: a long-running transaction (an idle-in-transaction session, a long
 *    report) holds it here however unrelated it is.
 * 4. It swaps: the new index takes the old name, constraints and dependencies and becomes
 *    valid; the old index is renamed `<name>_ccold` and marked invalid. Catalog work only,
 *    under the SHARE UPDATE EXCLUSIVE locks it already holds.
 * 5/6. It waits for every transaction holding any lock on the table (AccessExclusive
 *    conflicts) twice, marking the old index dead and then dropping it.
 *
 * Every wait in 2, 3, 5 and 6 is a wait for another transaction's virtual transaction id lock:
 * a heavyweight lock wait too, so lock_timeout bounds each of them as well, and
 * pg_blocking_pids() of the REINDEX session names the transactions it waits for. None of them
 * puts a lock request on the table into the queue: the application is not stalled by them.
 * So one setting bounds every wait of a rebuild: lock_timeout, and a long transaction makes an
 * attempt fail after lock_timeout rather than hang; the attempt is retried with backoff up to
 * swap_attempts times, then the index fails naming the sessions it waited for. The price: an
 * attempt that fails in 3 wastes its build (the rebuild starts over), which is why the failure
 * message names the long transaction to end.
 *
 * What a failure leaves: in 1 before the commit nothing; from 2 to 4 the INVALID `_ccnew`
 * index (which the application keeps maintaining on every write until dropped); after 4 the
 * INVALID `_ccold` (the old index under its new name, same OID as before). The table stays
 * fully usable: the original index (before 4) or the new one (after 4) is valid. rpcl records
 * each rebuild before starting it (rpcl.index_runs) and removes only what that row proves is
 * its own, with DROP INDEX CONCURRENTLY (the same SHARE UPDATE EXCLUSIVE lock and waits,
 * bounded the same way).
 *
 * What it cannot do, refused up front: indexes of exclusion constraints ("concurrent index
 * creation for exclusion constraints is not supported"); system catalogs and TOAST indexes
 * (never selected: rpcl takes the indexes of user tables only); a partitioned index (13 cannot
 * REINDEX one CONCURRENTLY, and from 14 it is only a loop over its leaves): it stands for its
 * leaf indexes instead, each rebuilt on its own; an INVALID index that is not rpcl's (a user's
 * failed CREATE INDEX CONCURRENTLY: whether to rebuild or drop it is the user's decision); a
 * table owned by a role rpcl cannot act as (REINDEX needs the owner). REINDEX CONCURRENTLY
 * cannot run inside a transaction block: every statement here runs on its own.
 */
import { displayIdent, displayQualified, quoteQualified, type QualifiedName } from '../db/ident.js';
import type { IndexFacts } from '../inspect/indexes.js';
import type { Step } from './step.js';

/** The bloat estimator's answer for one index (only the fields the choice reads). */
export interface IndexBloatEstimate {
  oid: number;
  bytes: number;
  reclaimableBytes: number | null;
  ratio: number | null;
  /** How it was estimated, or why it could not be. */
  method?: string;
}

/** `min_bloat_ratio` / `min_bloat_bytes`: an index must pass both that are set. */
export interface BloatThresholds {
  minRatio: number | null;
  minBytes: number | null;
}

export interface IndexChoiceOptions {
  /** OIDs the user named (`indexes`, `--index`): only these, and thresholds do not apply to them. null: all. */
  named: ReadonlySet<number> | null;
  estimates?: ReadonlyMap<number, IndexBloatEstimate>;
  thresholds?: BloatThresholds;
}

export interface IndexChoice {
  chosen: IndexFacts[];
  refused: { index: IndexFacts; reason: string }[];
  skipped: { index: IndexFacts; reason: string }[];
}

export function displayIndex(f: Pick<IndexFacts, 'schema' | 'name'>): string {
  return displayQualified({ schema: f.schema, name: f.name });
}

/** Why REINDEX INDEX CONCURRENTLY must not be tried on this index, or null. */
export function indexRefusal(f: IndexFacts): string | null {
  if (f.system) return 'it belongs to a system catalog or to rpcl: never rebuilt';
  if (f.partitioned) {
    return 'it is a partitioned index: it holds no data; its leaf indexes are rebuilt one by one (name them, or the partitioned table)';
  }
  if (f.exclusion) {
    return 'it backs an exclusion constraint: PostgreSQL cannot rebuild those CONCURRENTLY (use repack_tables for this table)';
  }
  if (!f.valid) {
    return 'it is INVALID and rpcl did not create it (a failed CREATE INDEX CONCURRENTLY?): drop it or rebuild it yourself';
  }
  if (!f.canActAsOwner) {
    return `its table is owned by ${displayIdent(f.owner)}: REINDEX needs the owner; connect as that role (or a member of it)`;
  }
  return null;
}

/**
 * A refusal for what the index is (an exclusion constraint's, partitioned, INVALID, a system
 * index), not for who runs rpcl: on a table named in `tables` it is reported but does not fail
 * the run, which would otherwise exit non-zero every night for an index no run can rebuild.
 * Named itself (`indexes`, `--index`), any refusal counts.
 */
export function refusalCounts(f: IndexFacts, named: boolean, tableListed: boolean): boolean {
  if (named) return true;
  const ofItsKind = f.system || f.partitioned || f.exclusion || !f.valid;
  return tableListed && !ofItsKind;
}

function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * Why an index does not pass the thresholds, or null when it does. As for tables, an index
 * whose bloat is not known (not a btree, no statistics) does not pass while a threshold is set:
 * naming it rebuilds it.
 */
export function belowThresholds(e: IndexBloatEstimate | undefined, t: BloatThresholds | undefined): string | null {
  if (t === undefined || (t.minRatio === null && t.minBytes === null)) return null;
  if (e === undefined || e.reclaimableBytes === null || e.ratio === null) {
    return `bloat not estimated (${e?.method ?? 'no estimate'}): below the thresholds unless named in indexes or --index`;
  }
  const figures = `estimated bloat ${formatMiB(e.reclaimableBytes)} of ${formatMiB(e.bytes)} (ratio ${e.ratio.toFixed(2)})`;
  if (t.minRatio !== null && e.ratio < t.minRatio) return `${figures}: below min_bloat_ratio ${t.minRatio}`;
  if (t.minBytes !== null && e.reclaimableBytes < t.minBytes) return `${figures}: below min_bloat_bytes ${t.minBytes}`;
  return null;
}

/**
 * The run's indexes, in order: refused ones with their reason, those under the thresholds
 * skipped with their figures (never one the user named), the rest chosen, largest reclaimable
 * first when estimates are known, else largest first.
 */
export function chooseIndexes(indexes: IndexFacts[], opts: IndexChoiceOptions): IndexChoice {
  const out: IndexChoice = { chosen: [], refused: [], skipped: [] };
  const seen = new Set<number>();
  for (const index of indexes) {
    if (seen.has(index.oid)) continue;
    seen.add(index.oid);
    if (opts.named !== null && !opts.named.has(index.oid)) continue;
    const refusal = indexRefusal(index);
    if (refusal !== null) {
      out.refused.push({ index, reason: refusal });
      continue;
    }
    const below = opts.named === null ? belowThresholds(opts.estimates?.get(index.oid), opts.thresholds) : null;
    if (below !== null) out.skipped.push({ index, reason: below });
    else out.chosen.push(index);
  }
  const gain = (f: IndexFacts) => opts.estimates?.get(f.oid)?.reclaimableBytes ?? f.bytes;
  out.chosen.sort((a, b) => gain(b) - gain(a) || b.bytes - a.bytes || a.oid - b.oid);
  return out;
}

/**
 * Names the user gave that are not indexes of the selected tables, each with the reason: a
 * bad input error before any work.
 */
export function unknownIndexNames(
  resolved: ({ name: QualifiedName; oids: number[] } | { name: QualifiedName; missing: string })[],
  selectedOids: ReadonlySet<number>,
): string[] {
  const problems: string[] = [];
  for (const r of resolved) {
    if ('missing' in r) {
      problems.push(`index ${displayQualified(r.name)}: ${r.missing} (check the name; quote mixed-case names: 'public."Name"')`);
    } else if (r.oids.length === 0) {
      problems.push(`index ${displayQualified(r.name)}: a partitioned index without leaf indexes: nothing to rebuild`);
    } else if (r.oids.some((oid) => !selectedOids.has(oid))) {
      problems.push(
        `index ${displayQualified(r.name)}: its table is not among the connection's selected tables (schemas, tables): add the table, or leave schemas and tables empty`,
      );
    }
  }
  return problems;
}

export function reindexConcurrently(f: Pick<IndexFacts, 'schema' | 'name' | 'tableSchema' | 'tableName'>): Step {
  return {
    description: `rebuild index ${displayIndex(f)} online (a new copy, swapped in by name)`,
    sql: `REINDEX INDEX CONCURRENTLY ${quoteQualified({ schema: f.schema, name: f.name })}`,
    locks: [{ table: displayQualified({ schema: f.tableSchema, name: f.tableName }), level: 'SHARE UPDATE EXCLUSIVE' }],
  };
}

export function dropIndexConcurrently(
  index: QualifiedName,
  table: QualifiedName,
): Step {
  return {
    description: `drop the leftover index ${displayQualified(index)} of an interrupted rebuild`,
    sql: `DROP INDEX CONCURRENTLY IF EXISTS ${quoteQualified(index)}`,
    locks: [{ table: displayQualified(table), level: 'SHARE UPDATE EXCLUSIVE' }],
  };
}

/**
 * The names PostgreSQL gives a rebuild's work indexes: `<name>_ccnew[N]` and `<name>_ccold[N]`,
 * the base truncated so that the whole fits in 63 bytes (ChooseRelationName/makeObjectName).
 * A leftover must match these exactly to be dropped.
 */
export function isRebuildName(base: string, candidate: string, kind: 'ccnew' | 'ccold'): boolean {
  const m = new RegExp(`^(.*)_${kind}([0-9]*)$`, 's').exec(candidate);
  if (m === null) return false;
  const prefix = m[1]!;
  return prefix.length > 0 && (prefix === base || (base.startsWith(prefix) && Buffer.byteLength(candidate) >= 60));
}
