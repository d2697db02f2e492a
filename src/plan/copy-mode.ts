/**
 * Which copy a table gets. copy_mode = "snapshot" is the default for now; "auto" copies in
 * chunks from CHUNKED_FROM_BYTES of table size (heap, TOAST and indexes), in one snapshot below
 * it. auto is not the default yet because a chunked copy's indexes are filled by inserts and
 * come out far less dense than bulk-built ones (the bench: 1153 against 789 MB after, at
 * 10,000,000 rows), until the copy's secondary indexes are built after its heap.
 *
 * Why 1 GiB: the snapshot copy is the faster of the two (its indexes are built once, in bulk,
 * instead of row by row), but it keeps one transaction open for the copy and then one per index
 * build. Measured on this project's bench machine that is about 20 s per GiB: below 1 GiB the
 * oldest transaction stays within the length of an ordinary report query and holds vacuum back
 * for less than autovacuum's own naptime (1 min); above it, the snapshot's age grows with the
 * table, and the chunked copy's bounded transactions are worth its extra time.
 */
export type CopyMode = 'auto' | 'snapshot' | 'chunked';

export const CHUNKED_FROM_BYTES = 1024 ** 3;

export function usesChunkedCopy(mode: CopyMode, totalBytes: number): boolean {
  return mode === 'chunked' || (mode === 'auto' && totalBytes >= CHUNKED_FROM_BYTES);
}
