/**
 * Heap and TOAST side of the bloat estimate: a bounded sample of pages, read through the
 * table (ACCESS SHARE, like any SELECT), measuring what the rows visible now take on a page.
 * Everything else on the sampled pages (dead rows, free space, unused line pointers) is what
 * a rewrite gives back, less the free space the table's fillfactor keeps on purpose.
 */
import type pg from 'pg';
import { quoteIdent } from '../db/ident.js';
import { heapRowSpace, packPages, toastChunkSpaces, toastedRow, toastTupleThreshold } from './bloat-model.js';

/** Pages read per relation at most; smaller relations are read whole. 8 MB at 8 kB pages. */
export const SAMPLE_PAGES = 1024;

export interface SampledColumn {
  name: string;
  /** attlen: -1 for varlena. */
  length: number;
}

export interface HeapMeasure {
  /** Rows visible now, scaled from the sample to the whole relation. */
  liveRows: number;
  /** Pages a freshly written copy of those rows needs at the fillfactor. */
  neededPages: number;
  pagesRead: number;
  /** True when every page was read. */
  whole: boolean;
  /**
   * Pages the TOAST table needs for the values these rows moved there, TOASTed afresh in row
   * order as a rewrite does (their stored sizes are in the TOAST pointers), scaled like the rows.
   */
  toastPages: number;
  /** Per index OID (keys of HeapTarget). */
  keys: Map<number, KeyMeasure>;
}

/** Consecutive pages read together: a TID range scan each (PostgreSQL 14+). */
export const RUN_PAGES = 16;

/**
 * The pages to read: all of them for a relation up to `budget` pages, else budget / RUN_PAGES
 * runs of consecutive pages, one at a random place in each of as many equal strata
 * (deterministic per relation, so a re-run reads the same pages). Listing the pages, rather
 * than TABLESAMPLE SYSTEM, makes the number read exact (the estimate divides by it; SYSTEM's
 * varies by ~1/sqrt(n)), and the strata follow bloat that sits in one part of the table (old
 * rows deleted at the start) where independent pages would miss or overweight it.
 */
export function samplePages(pages: number, budget: number, seed: number, run = RUN_PAGES): number[] | null {
  if (pages <= budget) return null;
  let state = (seed >>> 0) || 1;
  const random = () => {
    // xorshift32: a fixed sequence for a given relation.
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
  const runs = Math.max(1, Math.floor(budget / run));
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const from = Math.floor((i * pages) / runs);
    const to = Math.floor(((i + 1) * pages) / runs);
    const start = from + Math.floor(random() * Math.max(1, to - from - run + 1));
    for (let p = start; p < Math.min(start + run, to); p++) out.push(p);
  }
  return out;
}

/** Consecutive pages as [first, last + 1) ranges. */
export function pageRanges(pages: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const p of pages) {
    const last = out[out.length - 1];
    if (last && last[1] === p) last[1] = p + 1;
    else out.push([p, p + 1]);
  }
  return out;
}

/** Every possible tuple address on the given pages (a TID scan reads just those pages). */
export function tidArray(pages: number[], maxTuplesPerPage: number): string {
  const tids: string[] = [];
  for (const p of pages) for (let o = 1; o <= maxTuplesPerPage; o++) tids.push(`"(${p},${o})"`);
  return `{${tids.join(',')}}`;
}

/**
 * How the sample reaches its pages: a whole relation by a plain scan; PostgreSQL 14+ one TID
 * range scan per run ($2, $3 for the first); before 14, one TID scan over every possible
 * tuple address of the pages ($2): slower, the same pages.
 */
export type SampleAccess = { kind: 'whole' } | { kind: 'ranges'; count: number } | { kind: 'tids' };

/**
 * The sample query. Rows whose whole size stays under the TOAST threshold were never touched
 * by the toaster: pg_column_size of the row is then exactly its heap tuple length. Larger
 * rows come back with their varlena columns' stored sizes, and the toaster's moves are
 * replayed on them (bloat-model.ts), because a whole-row value is detoasted.
 *
 * Each btree index's entry for the row is measured too (a key sample): its key columns or
 * expressions, as the server prints them, formed into a row value, whose size is the index
 * tuple's but for the header (24 bytes against 8, or 16 with a null bitmap); rows outside a
 * partial index's predicate have none.
 */
export function heapSampleSql(relation: string, columns: SampledColumn[], access: SampleAccess, keys: IndexKeySample[] = []): string {
  const varlena = columns.filter((c) => c.length === -1).map((c) => `pg_column_size(t.${quoteIdent(c.name)})`);
  const parts = `CASE WHEN pg_column_size(t.*) > $1::int8 THEN ARRAY[${varlena.join(', ')}]::int8[] END`;
  const entries = keys.map((k, i) => {
    const nulls = k.expressions.map((e) => `(${e}) IS NULL`).join(' OR ');
    const size = `pg_column_size(ROW(${k.expressions.join(', ')})) - CASE WHEN ${nulls} THEN 8 ELSE 16 END`;
    return `, CASE WHEN ${k.predicate === null ? 'true' : `(${k.predicate})`} THEN ${size} END AS k${i}`;
  }).join('');
  // A heap's physical order: the order a rewrite writes the rows in (the copy reads it so).
  const scan = (where: string) => `SELECT t.ctid AS c, pg_column_size(t.*)::int8 AS sz, ${parts} AS parts${entries} FROM ONLY ${relation} t${where}`;
  let rows: string[];
  if (access.kind === 'whole') rows = [`  ${scan('')}`];
  else if (access.kind === 'tids') rows = [`  ${scan(' WHERE t.ctid = ANY($2::tid[])')}`];
  else {
    rows = Array.from({ length: access.count }, (_, i) =>
      `  ${i === 0 ? '' : 'UNION ALL '}${scan(` WHERE t.ctid >= $${2 * i + 2}::tid AND t.ctid < $${2 * i + 3}::tid`)}`);
  }
  return [
    `WITH r AS (`,
    ...rows,
    `)`,
    // In physical order: what each row takes on a page (aligned tuple and line pointer), -1
    // for a row the toaster worked on, whose column sizes follow in the same order.
    `SELECT coalesce(array_agg(CASE WHEN parts IS NULL THEN (sz + 7) / 8 * 8 + 4 ELSE -1 END ORDER BY c), '{}') AS spaces,`,
    `       coalesce((SELECT json_agg(parts ORDER BY c) FROM r WHERE parts IS NOT NULL), '[]'::json) AS toasted` +
      keys.map((_, i) => `,\n       count(k${i})::int8 AS k${i}_rows, coalesce(sum((k${i} + 7) / 8 * 8 + 4), 0)::float8 AS k${i}_bytes`).join(''),
    `FROM r`,
  ].join('\n');
}

/** A btree index's entry, as SQL over the table's row `t`: from pg_get_indexdef and pg_get_expr. */
export interface IndexKeySample {
  oid: number;
  expressions: string[];
  predicate: string | null;
}

/** Entries the sampled rows give an index, and the space they take on its leaves, scaled to the table. */
export interface KeyMeasure {
  entries: number;
  bytes: number;
}

export interface HeapTarget {
  /** Quoted, qualified. */
  relation: string;
  columns: SampledColumn[];
  pages: number;
  fillfactor: number;
  toastTarget: number;
  blockSize: number;
  seed: number;
  /** The table's btree indexes whose entries are measured on the same rows. */
  keys?: IndexKeySample[];
  /** server_version_num: TID range scans from 140000. */
  serverVersion: number;
}

export async function measureHeap(client: pg.Client, t: HeapTarget, budget = SAMPLE_PAGES): Promise<HeapMeasure> {
  const pages = samplePages(t.pages, budget, t.seed);
  const threshold = toastTupleThreshold(t.blockSize);
  const maxTuples = Math.floor((t.blockSize - 24) / (24 + 4));
  let access: SampleAccess;
  let params: (string | number)[];
  if (pages === null) {
    access = { kind: 'whole' };
    params = [threshold];
  } else if (t.serverVersion >= 140000) {
    const ranges = pageRanges(pages);
    access = { kind: 'ranges', count: ranges.length };
    params = [threshold, ...ranges.flatMap(([a, b]) => [`(${a},0)`, `(${b},0)`])];
  } else {
    access = { kind: 'tids' };
    params = [threshold, tidArray(pages, maxTuples)];
  }
  const keys = t.keys ?? [];
  const sql = heapSampleSql(t.relation, t.columns, access, keys);
  const { rows } = await client.query<{ spaces: string[]; toasted: number[][] } & Record<string, string | number>>(sql, params);
  const r = rows[0]!;
  const fixed = t.columns.filter((c) => c.length > 0).reduce((a, c) => a + c.length, 0);
  let next = 0;
  const chunks: number[] = [];
  const spaces = r.spaces.map((v) => {
    const n = Number(v);
    if (n >= 0) return n;
    const row = toastedRow(fixed, r.toasted[next++]!.map(Number), t.toastTarget);
    for (const value of row.external) chunks.push(...toastChunkSpaces(value, t.blockSize));
    return heapRowSpace(row.length);
  });
  const pagesRead = pages === null ? t.pages : pages.length;
  const scale = pages === null || pages.length === 0 ? 1 : t.pages / pages.length;
  return {
    liveRows: Math.round(spaces.length * scale),
    neededPages: Math.ceil(packPages(spaces, t.fillfactor, t.blockSize) * scale),
    toastPages: Math.ceil(packPages(chunks, 100, t.blockSize) * scale),
    keys: new Map(keys.map((k, i) => [k.oid, { entries: Number(r[`k${i}_rows`]) * scale, bytes: Number(r[`k${i}_bytes`]) * scale }])),
    pagesRead,
    whole: pages === null,
  };
}
