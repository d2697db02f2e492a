/**
 * Heap and TOAST side of the bloat estimate: a bounded sample of pages, read through the
 * table (ACCESS SHARE, like any SELECT), measuring what the rows visible now take on a page.
 * Everything else on the sampled pages (dead rows, free space, unused line pointers) is what
 * a rewrite gives back, less the free space the table's fillfactor keeps on purpose.
 */
import type pg from 'pg';
import { quoteIdent } from '../db/ident.js';
import { heapPagesNeeded, heapRowSpace, toastedTupleLength, toastTupleThreshold, type RowSpace } from './bloat-model.js';

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
}

/**
 * The pages to read: all of them for a relation up to `budget` pages, else one random page
 * in each of `budget` equal strata (deterministic per relation, so a re-run reads the same
 * pages). Listing pages, rather than TABLESAMPLE SYSTEM, makes the number read exact: the
 * estimate divides by it, and SYSTEM's page count varies by ~1/sqrt(n).
 */
export function samplePages(pages: number, budget: number, seed: number): number[] | null {
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
  const out: number[] = [];
  for (let i = 0; i < budget; i++) {
    const from = Math.floor((i * pages) / budget);
    const to = Math.floor(((i + 1) * pages) / budget);
    out.push(from + Math.floor(random() * (to - from)));
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
 * The sample query. Rows whose whole size stays under the TOAST threshold were never touched
 * by the toaster: pg_column_size of the row is then exactly its heap tuple length. Larger
 * rows come back with their varlena columns' stored sizes, and the toaster's moves are
 * replayed on them (bloat-model.ts), because a whole-row value is detoasted.
 */
export function heapSampleSql(relation: string, columns: SampledColumn[], sampled: boolean, toast = false): string {
  const varlena = columns.filter((c) => c.length === -1).map((c) => `pg_column_size(t.${quoteIdent(c.name)})`);
  const threshold = sampled ? '$2' : '$1';
  // A TOAST table has no row type: its tuple is a 24-byte header, two int4 and the chunk.
  const size = toast ? '(32 + pg_column_size(t.chunk_data))' : 'pg_column_size(t.*)';
  const parts = toast ? 'NULL::int8[]' : `CASE WHEN ${size} > ${threshold}::int8 THEN ARRAY[${varlena.join(', ')}]::int8[] END`;
  return [
    `WITH r AS (`,
    `  SELECT ${size}::int8 AS sz,`,
    `         ${parts} AS parts${toast ? `, ${threshold}::int8 AS unused` : ''}`,
    `  FROM ONLY ${relation} t${sampled ? ' WHERE t.ctid = ANY($1::tid[])' : ''}`,
    `)`,
    `SELECT count(*) FILTER (WHERE parts IS NULL)::int8 AS n,`,
    `       coalesce(sum((sz + 7) / 8 * 8 + 4) FILTER (WHERE parts IS NULL), 0)::float8 AS bytes,`,
    `       coalesce(sum(((sz + 7) / 8 * 8 + 4)::float8 ^ 2) FILTER (WHERE parts IS NULL), 0)::float8 AS squares,`,
    `       coalesce((SELECT json_agg(parts) FROM r WHERE parts IS NOT NULL), '[]'::json) AS toasted`,
    `FROM r`,
  ].join('\n');
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
  /** A TOAST table (chunk_id, chunk_seq, chunk_data). */
  toast?: boolean;
}

export async function measureHeap(client: pg.Client, t: HeapTarget, budget = SAMPLE_PAGES): Promise<HeapMeasure> {
  const pages = samplePages(t.pages, budget, t.seed);
  const threshold = toastTupleThreshold(t.blockSize);
  const sql = heapSampleSql(t.relation, t.columns, pages !== null, t.toast === true);
  const maxTuples = Math.floor((t.blockSize - 24) / (24 + 4));
  const params = pages === null ? [threshold] : [tidArray(pages, maxTuples), threshold];
  const { rows } = await client.query<{ n: string; bytes: number; squares: number; toasted: number[][] }>(sql, params);
  const r = rows[0]!;
  const space: RowSpace = { rows: Number(r.n), bytes: r.bytes, squares: r.squares };
  const fixed = t.columns.filter((c) => c.length > 0).reduce((a, c) => a + c.length, 0);
  for (const parts of r.toasted) {
    const s = heapRowSpace(toastedTupleLength(fixed, parts.map(Number), t.toastTarget));
    space.rows += 1;
    space.bytes += s;
    space.squares += s * s;
  }
  const pagesRead = pages === null ? t.pages : pages.length;
  const scale = pages === null || pages.length === 0 ? 1 : t.pages / pages.length;
  const whole: RowSpace = { rows: space.rows * scale, bytes: space.bytes * scale, squares: space.squares * scale };
  return {
    liveRows: Math.round(whole.rows),
    neededPages: heapPagesNeeded(whole, t.fillfactor, t.blockSize),
    pagesRead,
    whole: pages === null,
  };
}
