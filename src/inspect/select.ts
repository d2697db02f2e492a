/**
 * Which tables a connection's run works on: `schemas` and `tables` are cumulative, both empty
 * means every ordinary table outside system and helper schemas. Largest estimated bloat first:
 * with `sample`, what a repack gives back by the page-sampling estimate (inspect/bloat.ts),
 * else from statistics (heap size minus the size the live rows need).
 */
import type pg from 'pg';
import { displayQualified, type QualifiedName } from '../db/ident.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { isolated } from './bloat.js';
import { bloatOfTables, type CandidateBloat } from './select-bloat.js';

export interface Candidate {
  oid: number;
  schema: string;
  name: string;
  /** Listed by name in `tables` (a refusal then makes the exit code non-zero). */
  listed: boolean;
  estimatedBloatBytes: number;
  heapBytes: number;
  /** All the table's indexes (pg_indexes_size). */
  indexBytes: number;
  /** Heap, TOAST and indexes (pg_total_relation_size). */
  totalBytes: number;
  /** A leaf partition: its partitioned table at the top, and its place among that table's leaves in this run. */
  partitionOf: PartitionPlace | null;
  /** Named itself in `tables` (not as a leaf of a named partitioned table): thresholds do not apply. */
  namedDirectly?: boolean;
  /** The sampling estimate (selectTables with sample), which then orders the run. */
  bloat?: CandidateBloat;
}

export interface PartitionPlace {
  /** The root partitioned table, as displayed. */
  root: string;
  /** 1-based, in run order. */
  number: number;
  of: number;
}

/**
 * A default partition goes after every other partition of its parent in the run: each of those
 * puts a CHECK constraint on it for the time of its own run (plan/partition.ts), and a run on
 * the default partition is refused while one is there. Otherwise the order stays.
 */
export function defaultsAfterSiblings(
  candidates: Candidate[],
  parentOf: ReadonlyMap<number, number>,
  defaults: ReadonlySet<number>,
): Candidate[] {
  const out = candidates.filter((c) => !defaults.has(c.oid));
  for (const d of candidates.filter((c) => defaults.has(c.oid))) {
    const parent = parentOf.get(d.oid);
    let at = -1;
    out.forEach((c, i) => {
      if (parentOf.get(c.oid) === parent) at = i;
    });
    // No sibling selected: it keeps its place by bloat among the others.
    if (at === -1) at = out.findIndex((c) => candidates.indexOf(c) > candidates.indexOf(d)) - 1;
    out.splice(at === -2 ? out.length : at + 1, 0, d);
  }
  return out;
}

/**
 * Numbers the leaves of each partitioned table in the order the run takes them (the
 * candidates' order), so that the log and `status` say which leaf is in progress and how many
 * remain. `roots` maps a leaf's OID to its root's display name.
 */
export function numberPartitions(candidates: Candidate[], roots: ReadonlyMap<number, string>): Candidate[] {
  const total = new Map<string, number>();
  for (const c of candidates) {
    const root = roots.get(c.oid);
    if (root !== undefined) total.set(root, (total.get(root) ?? 0) + 1);
  }
  const seen = new Map<string, number>();
  return candidates.map((c) => {
    const root = roots.get(c.oid);
    if (root === undefined) return { ...c, partitionOf: null };
    const number = (seen.get(root) ?? 0) + 1;
    seen.set(root, number);
    return { ...c, partitionOf: { root, number, of: total.get(root)! } };
  });
}

/** The heap's share of live rows, by the bloat estimate: 1 when nothing is known. */
export function liveFraction(c: Pick<Candidate, 'heapBytes' | 'estimatedBloatBytes'>): number {
  const live = c.heapBytes > 0 ? 1 - c.estimatedBloatBytes / c.heapBytes : 1;
  return Math.min(1, Math.max(0, live));
}

/**
 * Extra space a run needs while both tables exist: the compact copy and its indexes, taken as
 * the table's total size shrunk by the heap's estimated bloat.
 */
export function extraSpaceBytes(c: Pick<Candidate, 'heapBytes' | 'estimatedBloatBytes' | 'totalBytes'>): number {
  return Math.round(c.totalBytes * liveFraction(c));
}

/**
 * What the copy's heap and TOAST should come to once every row is in (indexes left out), by
 * the same estimate: the copy's size so far against it tells how far a copy has got before it
 * reports its first rows.
 */
export function expectedCopyTableBytes(c: Pick<Candidate, 'heapBytes' | 'estimatedBloatBytes' | 'totalBytes' | 'indexBytes'>): number {
  return Math.round(Math.max(0, c.totalBytes - c.indexBytes) * liveFraction(c));
}

export interface Selection {
  candidates: Candidate[];
  /** Listed tables that do not exist. */
  missing: QualifiedName[];
  /** Why the bloat sample (selectTables with sample) could not be taken. */
  sampleError?: string;
}

const BLOAT_SQL = `
SELECT c.oid::int8 AS oid, n.nspname, c.relname, pg_relation_size(c.oid)::int8 AS heap_bytes,
       pg_total_relation_size(c.oid)::int8 AS total_bytes, pg_indexes_size(c.oid)::int8 AS index_bytes,
       greatest(pg_relation_size(c.oid) - ceil(
         greatest(c.reltuples, 0) * (coalesce(w.width, 0) + 28)
         / ((current_setting('block_size')::int - 24) * coalesce(ff.fillfactor, 100) / 100.0)
       ) * current_setting('block_size')::int, 0)::int8 AS bloat_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
  SELECT sum(s.avg_width)::float8 AS width FROM pg_stats s WHERE s.schemaname = n.nspname AND s.tablename = c.relname
) w ON true
LEFT JOIN LATERAL (
  SELECT substr(o, 12)::int AS fillfactor FROM unnest(c.reloptions) o WHERE o LIKE 'fillfactor=%'
) ff ON true
WHERE c.oid = ANY($1::oid[])`;

/** What orders a run: the sampled reclaimable bytes when measured, else the statistics' heap bloat. */
export function orderKey(c: Candidate): number {
  return c.bloat?.reclaimableBytes ?? c.estimatedBloatBytes;
}

/**
 * `sample`: also measure each table's bloat with the page-sampling estimate (inspect/bloat.ts,
 * up to SAMPLE_PAGES pages per heap and per TOAST table) and order by it. `'to-order'` samples
 * only when there is an order to decide (more than one table): a run on one table without
 * thresholds gains nothing from the sample's reads (about 0.3 s at any table size).
 */
export async function selectTables(
  client: pg.Client,
  schemas: string[],
  tables: QualifiedName[],
  opts: { sample?: boolean | 'to-order' } = {},
): Promise<Selection> {
  const everything = schemas.length === 0 && tables.length === 0;
  // A partitioned table holds no rows: it stands for its leaf partitions (foreign ones
  // included, which are then refused with their reason), wherever their schema.
  const bySchema = await client.query<{ oid: string }>(
    `SELECT DISTINCT coalesce(leaf.relid, c.oid)::int8 AS oid
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN LATERAL (SELECT t.relid FROM pg_partition_tree(c.oid) t WHERE c.relkind = 'p' AND t.isleaf) leaf ON true
     WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1) AND n.nspname !~ '^pg_(toast|temp)'
       AND ($2::bool OR n.nspname = ANY($3::text[]))
       AND (c.relkind = 'r' OR leaf.relid IS NOT NULL)`,
    [HELPER_SCHEMA, everything, schemas],
  );
  const listedOids = new Set<number>();
  const directOids = new Set<number>();
  const missing: QualifiedName[] = [];
  for (const t of tables) {
    const found = await client.query<{ oid: string; direct: boolean }>(
      `SELECT coalesce(leaf.relid, c.oid)::int8 AS oid, leaf.relid IS NULL AS direct FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN LATERAL (SELECT t.relid FROM pg_partition_tree(c.oid) t WHERE c.relkind = 'p' AND t.isleaf) leaf ON true
       WHERE n.nspname = $1 AND c.relname = $2`,
      [t.schema, t.name],
    );
    if (found.rows.length === 0) missing.push(t);
    for (const row of found.rows) {
      listedOids.add(Number(row.oid));
      if (row.direct) directOids.add(Number(row.oid));
    }
  }
  const oids = [...new Set([...bySchema.rows.map((r) => Number(r.oid)), ...listedOids])];
  let candidates = await estimateTables(client, oids, listedOids);
  candidates = candidates.map((c) => ({ ...c, namedDirectly: directOids.has(c.oid) }));
  let sampleError: string | undefined;
  if (opts.sample === true || (opts.sample === 'to-order' && candidates.length > 1)) {
    // The sample only orders and filters the run: if it fails, the run goes on with the
    // statistics' estimate and says so (with a threshold set, no table then passes).
    try {
      const bloat = await isolated(client, () => bloatOfTables(client, oids));
      candidates = candidates.map((c) => ({ ...c, bloat: bloat.get(c.oid) }));
    } catch (err) {
      sampleError = `the bloat sample failed (${(err as Error).message}): tables are ordered by the statistics' estimate, and none passes a bloat threshold`;
    }
  }
  candidates.sort(
    (a, b) => orderKey(b) - orderKey(a) || b.heapBytes - a.heapBytes || a.oid - b.oid,
  );
  const partitions = await client.query<{ oid: string; parent: string; is_default: boolean; nspname: string; relname: string }>(
    `SELECT c.oid::int8 AS oid, i.inhparent::int8 AS parent, pt.partdefid = c.oid AS is_default, n.nspname, r.relname
     FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid JOIN pg_partitioned_table pt ON pt.partrelid = i.inhparent
     JOIN pg_class r ON r.oid = pg_partition_root(c.oid) JOIN pg_namespace n ON n.oid = r.relnamespace
     WHERE c.oid = ANY($1::oid[]) AND c.relispartition`,
    [oids],
  );
  const rootOf = new Map(partitions.rows.map((r) => [Number(r.oid), displayQualified({ schema: r.nspname, name: r.relname })]));
  const ordered = defaultsAfterSiblings(
    candidates,
    new Map(partitions.rows.map((r) => [Number(r.oid), Number(r.parent)])),
    new Set(partitions.rows.filter((r) => r.is_default).map((r) => Number(r.oid))),
  );
  return { candidates: numberPartitions(ordered, rootOf), missing, ...(sampleError === undefined ? {} : { sampleError }) };
}

/** Sizes and estimated bloat of the given tables (in no particular order). */
export async function estimateTables(client: pg.Client, oids: number[], listed: ReadonlySet<number> = new Set()): Promise<Candidate[]> {
  const { rows } = await client.query(BLOAT_SQL, [oids]);
  return rows.map((r) => ({
    oid: Number(r.oid),
    schema: r.nspname,
    name: r.relname,
    listed: listed.has(Number(r.oid)),
    estimatedBloatBytes: Number(r.bloat_bytes),
    heapBytes: Number(r.heap_bytes),
    indexBytes: Number(r.index_bytes),
    totalBytes: Number(r.total_bytes),
    partitionOf: null,
  }));
}

export function describeMissing(t: QualifiedName): string {
  return `table ${displayQualified(t)} does not exist: check the tables list (quote mixed-case names: 'public."Name"')`;
}
