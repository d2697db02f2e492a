/**
 * The arithmetic of the bloat estimate, pure: how many pages a freshly written heap or btree
 * needs for the rows it holds, as PostgreSQL's own code fills pages (heap inserts leave the
 * fillfactor's free space; a btree build fills leaves to the index fillfactor and stores
 * duplicates as posting lists). Numbers are for the server's block size; MAXALIGN is 8.
 */

export const MAXALIGN = 8;
const PAGE_HEADER = 24;
const LINE_POINTER = 4;
const HEAP_TUPLE_HEADER = 23;
/** varatt_external behind a 2-byte header: what a value moved to TOAST leaves in the heap. */
export const TOAST_POINTER_BYTES = 18;

export function maxAlign(n: number): number {
  return Math.ceil(n / MAXALIGN) * MAXALIGN;
}

/** MaxHeapTuplesPerPage. */
export function maxHeapTuplesPerPage(blockSize: number): number {
  return Math.floor((blockSize - PAGE_HEADER) / (maxAlign(HEAP_TUPLE_HEADER) + LINE_POINTER));
}

/** TOAST_TUPLE_THRESHOLD / TOAST_TUPLE_TARGET for the block size (2032 for 8 kB). */
export function toastTupleThreshold(blockSize: number): number {
  const perPage = 4;
  return Math.floor((blockSize - maxAlign(PAGE_HEADER + perPage * LINE_POINTER)) / perPage / MAXALIGN) * MAXALIGN;
}

/**
 * The heap tuple length of a row the toaster worked on, from its column sizes as stored
 * (pg_column_size: compressed size for compressed values, the TOAST size for moved ones).
 * The toaster first compresses, then moves the largest values out until the tuple fits the
 * target: replayed here on the stored sizes.
 */
export function toastedTupleLength(fixedBytes: number, varlenaSizes: number[], target: number): number {
  const sizes = [...varlenaSizes].sort((a, b) => b - a);
  let total = maxAlign(HEAP_TUPLE_HEADER) + fixedBytes + sizes.reduce((a, b) => a + b, 0);
  for (let i = 0; i < sizes.length && total > target; i++) {
    if (sizes[i]! <= TOAST_POINTER_BYTES) break;
    total -= sizes[i]! - TOAST_POINTER_BYTES;
  }
  return total;
}

/** What one row costs on a page: its aligned tuple and its line pointer. */
export function heapRowSpace(tupleLength: number): number {
  return maxAlign(tupleLength) + LINE_POINTER;
}

export interface RowSpace {
  rows: number;
  /** Sum of heapRowSpace over the rows. */
  bytes: number;
  /** Sum of squares, for the spread of row sizes. */
  squares: number;
}

/**
 * Pages an INSERT-filled heap needs: a row goes on the current page while the page keeps the
 * fillfactor's free space (RelationGetBufferForTuple). Rows of one size fill each page with
 * floor(capacity / size) rows; rows of mixed sizes leave half a row on average.
 */
export function heapPagesNeeded(space: RowSpace, fillfactor: number, blockSize: number): number {
  if (space.rows <= 0 || space.bytes <= 0) return 0;
  const save = Math.floor((blockSize * (100 - fillfactor)) / 100);
  const capacity = blockSize - PAGE_HEADER - save;
  const mean = space.bytes / space.rows;
  const variance = Math.max(0, space.squares / space.rows - mean * mean);
  const uniform = Math.sqrt(variance) < 0.05 * mean;
  let perPage = uniform ? Math.floor(capacity / mean) : capacity / mean - 0.5;
  perPage = Math.min(maxHeapTuplesPerPage(blockSize), Math.max(1, perPage));
  return Math.ceil(space.rows / perPage);
}

export interface BtreeColumn {
  /** Average stored width (pg_stats.avg_width); typlen for fixed-width types. */
  width: number;
  /** typlen: -1 varlena, -2 cstring, else fixed. */
  typlen: number;
  /** typalign: c, s, i, d. */
  typalign: string;
  nullFraction: number;
}

const INDEX_TUPLE_HEADER = 8;
const BTREE_SPECIAL = 16;
const BTREE_NONLEAF_FILLFACTOR = 70;

function alignOf(a: string): number {
  return a === 'd' ? 8 : a === 'i' ? 4 : a === 's' ? 2 : 1;
}

/** Data bytes of an index tuple's key (and INCLUDE) columns, aligned as heap_form_tuple lays them. */
export function indexKeyBytes(columns: BtreeColumn[]): number {
  let off = INDEX_TUPLE_HEADER + (columns.some((c) => c.nullFraction > 0.5) ? 4 : 0);
  for (const c of columns) {
    const w = (1 - c.nullFraction) * c.width;
    if (c.typlen > 0) off = Math.ceil(off / alignOf(c.typalign)) * alignOf(c.typalign);
    // Short varlenas (1-byte header, under 127 bytes) are not aligned; longer ones are.
    else if (c.width >= 127) off = Math.ceil(off / alignOf(c.typalign)) * alignOf(c.typalign);
    off += w;
  }
  return off - INDEX_TUPLE_HEADER;
}

export interface BtreeShape {
  rows: number;
  columns: BtreeColumn[];
  /** Distinct keys among the rows, when the build deduplicates (else null: one tuple per row). */
  distinctKeys: number | null;
  fillfactor: number;
  blockSize: number;
}

/**
 * Pages a CREATE INDEX (or REINDEX) of a btree comes to: leaves filled to the fillfactor
 * (_bt_buildadd leaves BLCKSZ * (100 - fillfactor) / 100 free), each with a high key; equal
 * keys merged into posting lists of at most a tenth of a page (nbtsort.c); inner levels at
 * 70%; one metapage.
 */
export function btreePagesNeeded(s: BtreeShape): number {
  if (s.rows <= 0) return 1;
  const key = indexKeyBytes(s.columns);
  const capacity = s.blockSize - PAGE_HEADER - BTREE_SPECIAL;
  const leafFree = Math.floor((s.blockSize * (100 - s.fillfactor)) / 100);
  const plain = maxAlign(INDEX_TUPLE_HEADER + key) + LINE_POINTER;
  let leafBytes: number;
  if (s.distinctKeys !== null && s.distinctKeys > 0 && s.distinctKeys < s.rows) {
    const group = s.rows / s.distinctKeys;
    const maxPosting = Math.floor((s.blockSize * 10) / 100 / MAXALIGN) * MAXALIGN - LINE_POINTER;
    const perTuple = Math.max(2, Math.floor((maxPosting - maxAlign(INDEX_TUPLE_HEADER + key)) / 6));
    const full = Math.floor(group / perTuple);
    const rest = group - full * perTuple;
    const tupleOf = (n: number) => (n < 1.5 ? plain : maxAlign(INDEX_TUPLE_HEADER + key + 6 * n) + LINE_POINTER);
    const perGroup = full * tupleOf(perTuple) + (rest > 0 ? tupleOf(rest) : 0);
    leafBytes = s.distinctKeys * perGroup;
  } else {
    leafBytes = s.rows * plain;
  }
  const leafUsable = capacity - leafFree - plain;
  const leaves = Math.max(1, Math.ceil(leafBytes / leafUsable));
  const pivot = maxAlign(INDEX_TUPLE_HEADER + key) + LINE_POINTER;
  const fanout = Math.max(2, Math.floor(((capacity * BTREE_NONLEAF_FILLFACTOR) / 100) / pivot));
  let inner = 0;
  for (let level = leaves; level > 1; level = Math.ceil(level / fanout)) inner += Math.ceil(level / fanout);
  return 1 + leaves + inner;
}
