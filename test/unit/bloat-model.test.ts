/** The bloat estimate's arithmetic and its sample query, without a database. */
import { describe, expect, it } from 'vitest';
import { heapSampleSql, pageRanges, samplePages, tidArray } from '../../src/inspect/bloat-heap.js';
import {
  btreePagesNeeded, heapPagesNeeded, heapRowSpace, indexKeyBytes, maxHeapTuplesPerPage, toastedTupleLength, toastTupleThreshold,
} from '../../src/inspect/bloat-model.js';

describe('heap arithmetic', () => {
  it('has PostgreSQL 8 kB constants', () => {
    expect(maxHeapTuplesPerPage(8192)).toBe(291);
    expect(toastTupleThreshold(8192)).toBe(2032);
    expect(heapRowSpace(33)).toBe(44);
  });

  it('fills pages with whole rows of one size, keeping the fillfactor free', () => {
    // 100-byte rows (104 aligned + 4): 8168 / 108 = 75 a page.
    expect(heapPagesNeeded({ rows: 7500, bytes: 7500 * 108, squares: 7500 * 108 * 108 }, 100, 8192)).toBe(100);
    // fillfactor 50 keeps 4096 bytes: 4072 / 108 = 37 a page.
    expect(heapPagesNeeded({ rows: 3700, bytes: 3700 * 108, squares: 3700 * 108 * 108 }, 50, 8192)).toBe(100);
    expect(heapPagesNeeded({ rows: 0, bytes: 0, squares: 0 }, 100, 8192)).toBe(0);
  });

  it('caps tiny rows at MaxHeapTuplesPerPage', () => {
    expect(heapPagesNeeded({ rows: 2910, bytes: 2910 * 28, squares: 2910 * 28 * 28 }, 100, 8192)).toBe(10);
  });

  it('loses half a row a page on mixed sizes', () => {
    // Rows of 100 and 300 bytes alternating: mean 200, 8168 / 200 - 0.5 = 40.34 a page.
    const rows = 4034;
    const space = { rows, bytes: rows * 200, squares: (rows / 2) * (100 * 100 + 300 * 300) };
    expect(heapPagesNeeded(space, 100, 8192)).toBe(100);
  });

  it('replays the toaster: largest values out to 18-byte pointers until the row fits', () => {
    // 24 header + 8 fixed + 10 + 5000 + 3000: both big values move out.
    expect(toastedTupleLength(8, [10, 5000, 3000], 2032)).toBe(24 + 8 + 10 + 18 + 18);
    // Moving the 3000-byte one is enough.
    expect(toastedTupleLength(8, [1500, 3000], 2032)).toBe(24 + 8 + 1500 + 18);
    // Nothing to move: stays as it is.
    expect(toastedTupleLength(2100, [], 2032)).toBe(24 + 2100);
  });
});

describe('btree arithmetic', () => {
  const int4 = { width: 4, typlen: 4, typalign: 'i', nullFraction: 0 };
  it('lays out keys with alignment', () => {
    expect(indexKeyBytes([int4])).toBe(4);
    expect(indexKeyBytes([int4, { width: 8, typlen: 8, typalign: 'd', nullFraction: 0 }])).toBe(16);
    // A short text (1-byte header, unaligned) then an int4 aligned to 4: 10 + 2 padding + 4.
    expect(indexKeyBytes([{ width: 10, typlen: -1, typalign: 'i', nullFraction: 0 }, int4])).toBe(16);
  });

  it('sizes a unique int4 index as CREATE INDEX builds it: 100,000 keys in 276 pages', () => {
    // 16 + 4 bytes an entry, 8152 - 819 - 20 usable a leaf: 365 a leaf, 274 leaves, 1 root, 1 metapage.
    expect(btreePagesNeeded({ rows: 100_000, columns: [int4], distinctKeys: null, fillfactor: 90, blockSize: 8192 })).toBe(276);
  });

  it('merges duplicates into posting lists when the build deduplicates', () => {
    const plain = btreePagesNeeded({ rows: 100_000, columns: [int4], distinctKeys: null, fillfactor: 90, blockSize: 8192 });
    const dedup = btreePagesNeeded({ rows: 100_000, columns: [int4], distinctKeys: 100, fillfactor: 90, blockSize: 8192 });
    expect(dedup).toBeLessThan(plain / 2);
  });
});

describe('the page sample', () => {
  it('reads small relations whole, and runs of 16 pages one per stratum of large ones, the same pages each time', () => {
    expect(samplePages(100, 1024, 7)).toBeNull();
    const pages = samplePages(10_000, 160, 7)!;
    expect(pages).toHaveLength(160);
    const ranges = pageRanges(pages);
    expect(ranges).toHaveLength(10);
    ranges.forEach(([from, to], i) => {
      expect(to - from).toBe(16);
      expect(from).toBeGreaterThanOrEqual(i * 1000);
      expect(to).toBeLessThanOrEqual((i + 1) * 1000);
    });
    expect(samplePages(10_000, 160, 7)).toEqual(pages);
    expect(samplePages(10_000, 160, 8)).not.toEqual(pages);
  });

  it('never reads past a stratum, even a short one', () => {
    const pages = samplePages(1030, 1024, 3)!;
    expect(pages.length).toBeLessThanOrEqual(1024);
    expect(new Set(pages).size).toBe(pages.length);
    expect(Math.max(...pages)).toBeLessThan(1030);
  });

  it('lists every tuple address of the pages, and merges consecutive pages into ranges', () => {
    expect(tidArray([3, 9], 2)).toBe('{"(3,1)","(3,2)","(9,1)","(9,2)"}');
    expect(pageRanges([1, 2, 3, 7, 8, 10])).toEqual([[1, 4], [7, 9], [10, 11]]);
  });

  const columns = [{ name: 'id', length: 4 }, { name: 'Doc', length: -1 }, { name: 'select', length: -1 }];
  const tail = [
    ')',
    'SELECT count(*) FILTER (WHERE parts IS NULL)::int8 AS n,',
    '       coalesce(sum((sz + 7) / 8 * 8 + 4) FILTER (WHERE parts IS NULL), 0)::float8 AS bytes,',
    '       coalesce(sum(((sz + 7) / 8 * 8 + 4)::float8 ^ 2) FILTER (WHERE parts IS NULL), 0)::float8 AS squares,',
    "       coalesce((SELECT json_agg(parts) FROM r WHERE parts IS NOT NULL), '[]'::json) AS toasted",
    'FROM r',
  ];
  const row = 'SELECT pg_column_size(t.*)::int8 AS sz, CASE WHEN pg_column_size(t.*) > $1::int8 THEN ARRAY[pg_column_size(t."Doc"), pg_column_size(t."select")]::int8[] END AS parts FROM ONLY "Sch"."with""quote" t';

  it('builds the sample query for each access, quoting names', () => {
    expect(heapSampleSql('"Sch"."with""quote"', columns, { kind: 'whole' })).toBe(['WITH r AS (', `  ${row}`, ...tail].join('\n'));
    expect(heapSampleSql('"Sch"."with""quote"', columns, { kind: 'tids' })).toBe(
      ['WITH r AS (', `  ${row} WHERE t.ctid = ANY($2::tid[])`, ...tail].join('\n'),
    );
    expect(heapSampleSql('"Sch"."with""quote"', columns, { kind: 'ranges', count: 2 })).toBe([
      'WITH r AS (',
      `  ${row} WHERE t.ctid >= $2::tid AND t.ctid < $3::tid`,
      `  UNION ALL ${row} WHERE t.ctid >= $4::tid AND t.ctid < $5::tid`,
      ...tail,
    ].join('\n'));
  });

  it('builds the TOAST table query from its chunk sizes (a TOAST table has no row type)', () => {
    const toast = [{ name: 'chunk_id', length: 4 }, { name: 'chunk_seq', length: 4 }, { name: 'chunk_data', length: -1 }];
    expect(heapSampleSql('"pg_toast"."pg_toast_1"', toast, { kind: 'whole' }, true).split('\n').slice(0, 2)).toEqual([
      'WITH r AS (',
      '  SELECT (32 + pg_column_size(t.chunk_data))::int8 AS sz, CASE WHEN (32 + pg_column_size(t.chunk_data)) > $1::int8 ' +
        'THEN ARRAY[pg_column_size(t."chunk_data")]::int8[] END AS parts FROM ONLY "pg_toast"."pg_toast_1" t',
    ]);
  });
});
