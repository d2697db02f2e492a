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
 * A row the toaster worked on, from its column sizes as stored (pg_column_size: compressed size
 * for compressed values, the stored TOAST size for moved ones): its heap tuple length, and the
 * values it moved to TOAST. The toaster first compresses, then moves the largest values out
 * until the tuple fits the target: replayed here on the stored sizes.
 */
export function toastedRow(fixedBytes: number, varlenaSizes: number[], target: number): { length: number; external: number[] } {
  const sizes = [...varlenaSizes].sort((a, b) => b - a);
  let total = maxAlign(HEAP_TUPLE_HEADER) + fixedBytes + sizes.reduce((a, b) => a + b, 0);
  const external: number[] = [];
  for (let i = 0; i < sizes.length && total > target; i++) {
    if (sizes[i]! <= TOAST_POINTER_BYTES) break;
    total -= sizes[i]! - TOAST_POINTER_BYTES;
    external.push(sizes[i]!);
  }
  return { length: total, external };
}

export function toastedTupleLength(fixedBytes: number, varlenaSizes: number[], target: number): number {
  return toastedRow(fixedBytes, varlenaSizes, target).length;
}

/** TOAST_MAX_CHUNK_SIZE: 1996 at 8 kB. */
export function toastChunkSize(blockSize: number): number {
  return toastTupleThreshold(blockSize) - maxAlign(HEAP_TUPLE_HEADER) - 4 - 4 - 4;
}

/**
 * The TOAST rows a value of `bytes` stored bytes becomes (toast_save_datum: full chunks, then
 * the rest), each as the space it takes on a page: header, chunk_id, chunk_seq, the chunk.
 */
export function toastChunkSpaces(bytes: number, blockSize: number): number[] {
  const chunk = toastChunkSize(blockSize);
  const out: number[] = [];
  for (let left = bytes; left > 0; left -= chunk) out.push(heapRowSpace(maxAlign(HEAP_TUPLE_HEADER) + 4 + 4 + 4 + Math.min(chunk, left)));
  return out;
}

/** What one row costs on a page: its aligned tuple and its line pointer. */
export function heapRowSpace(tupleLength: number): number {
  return maxAlign(tupleLength) + LINE_POINTER;
}

/**
 * Pages a rewrite fills with these rows, in this order (each a heapRowSpace): a row goes on the
 * current page while the page keeps the fillfactor's free space, else on a new page, as
 * VACUUM FULL's rewrite does (rewriteheap.c) and as an INSERT into a new table does until the
 * free space map offers an earlier page. Replaying the order keeps the patterns that leave
 * space on every page whatever the rewrite (a TOASTed value's three full chunks and a small one).
 * Fractional: the last page counts by its share used.
 */
export function packPages(spaces: Iterable<number>, fillfactor: number, blockSize: number): number {
  const save = Math.floor((blockSize * (100 - fillfactor)) / 100);
  const capacity = blockSize - PAGE_HEADER - save;
  const maxTuples = maxHeapTuplesPerPage(blockSize);
  let pages = 0;
  let free = 0;
  let count = 0;
  for (const s of spaces) {
    if (pages === 0 || s > free || count >= maxTuples) {
      pages++;
      free = capacity;
      count = 0;
    }
    free -= s;
    count++;
  }
  // The last page counts by what it holds: a sample's last page is not the table's.
  return pages === 0 ? 0 : pages - Math.max(0, free) / capacity;
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
  /** Measured on sampled rows (a key sample): mean space an entry takes, line pointer included. */
  entrySpace?: number;
}

/**
 * Pages a CREATE INDEX (or REINDEX) of a btree comes to: leaves filled to the fillfactor
 * (_bt_buildadd leaves BLCKSZ * (100 - fillfactor) / 100 free), each with a high key; equal
 * keys merged into posting lists of at most a tenth of a page (nbtsort.c); inner levels at
 * 70%; one metapage.
 */
export function btreePagesNeeded(s: BtreeShape): number {
  if (s.rows <= 0) return 1;
  // A measured entry already holds its alignment: its key is what is left of the tuple.
  const key = s.entrySpace !== undefined ? Math.max(0, s.entrySpace - LINE_POINTER - INDEX_TUPLE_HEADER) : indexKeyBytes(s.columns);
  const capacity = s.blockSize - PAGE_HEADER - BTREE_SPECIAL;
  const leafFree = Math.floor((s.blockSize * (100 - s.fillfactor)) / 100);
  const plain = s.entrySpace ?? maxAlign(INDEX_TUPLE_HEADER + key) + LINE_POINTER;
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
