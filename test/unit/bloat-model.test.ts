/** The bloat estimate's arithmetic and its sample query, without a database. */
import { describe, expect, it } from 'vitest';
import { heapSampleSql, pageRanges, samplePages, tidArray } from '../../src/inspect/bloat-heap.js';
import {
  btreePagesNeeded, heapRowSpace, packPages, toastChunkSpaces, toastedRow, indexKeyBytes, maxHeapTuplesPerPage, toastedTupleLength, toastTupleThreshold,
} from '../../src/inspect/bloat-model.js';

describe('heap arithmetic', () => {
  it('has PostgreSQL 8 kB constants', () => {
    expect(maxHeapTuplesPerPage(8192)).toBe(291);
    expect(toastTupleThreshold(8192)).toBe(2032);
    expect(heapRowSpace(33)).toBe(44);
  });

  const pages = (spaces: number[], ff = 100) => Math.ceil(packPages(spaces, ff, 8192));

  it('fills pages with whole rows, keeping the fillfactor free', () => {
    // 100-byte rows (104 aligned + 4): 8168 / 108 = 75 a page.
    expect(pages(Array(7500).fill(108))).toBe(100);
    expect(pages(Array(7501).fill(108))).toBe(101);
    // fillfactor 50 keeps 4096 bytes: 4072 / 108 = 37 a page.
    expect(pages(Array(3700).fill(108), 50)).toBe(100);
    expect(pages([])).toBe(0);
  });

  it('caps tiny rows at MaxHeapTuplesPerPage', () => {
    expect(pages(Array(2910).fill(28))).toBe(10);
  });

  it('keeps the order: three full TOAST chunks and a small one leave the same gap on every page', () => {
    const chunk = 2032 + 4;
    const value = [chunk, chunk, chunk, 452];
    // Each page takes 3 full chunks and the small one (6560 bytes); the next full chunk does not fit.
    expect(pages(Array(100).fill(value).flat())).toBe(100);
    // The same sizes sorted would pack tighter: order matters.
    expect(pages(Array(100).fill(value).flat().sort((a, b) => a - b))).toBeLessThan(100);
  });

  it('cuts a TOASTed value into chunks as toast_save_datum does, and says which values the toaster moved', () => {
    // 16000 bytes: 8 chunks of 1996 (rows of 2032 bytes) and one of 32 (68, aligned 72).
    expect(toastChunkSpaces(16000, 8192)).toEqual([...Array(8).fill(2036), 76]);
    expect(toastChunkSpaces(0, 8192)).toEqual([]);
    expect(toastedRow(8, [10, 5000, 3000], 2032)).toEqual({ length: 24 + 8 + 10 + 18 + 18, external: [5000, 3000] });
  });

  it('counts a last page by its share used', () => {
    expect(packPages([4084], 100, 8192)).toBeCloseTo(0.5, 5);
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
    "SELECT coalesce(array_agg(CASE WHEN parts IS NULL THEN (sz + 7) / 8 * 8 + 4 ELSE -1 END ORDER BY c), '{}') AS spaces,",
    "       coalesce((SELECT json_agg(parts ORDER BY c) FROM r WHERE parts IS NOT NULL), '[]'::json) AS toasted",
    'FROM r',
  ];
  const row = 'SELECT t.ctid AS c, pg_column_size(t.*)::int8 AS sz, CASE WHEN pg_column_size(t.*) > $1::int8 THEN ARRAY[pg_column_size(t."Doc"), pg_column_size(t."select")]::int8[] END AS parts FROM ONLY "Sch"."with""quote" t';

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

  it('measures each btree index entry on the same rows: key expressions, partial predicate, null bitmap', () => {
    const sql = heapSampleSql('"s"."t"', [{ name: 'id', length: 4 }], { kind: 'whole' }, [
      { oid: 1, expressions: ['id'], predicate: null },
      { oid: 2, expressions: ['lower("Name")', 'id'], predicate: '(id > 10)' },
    ]);
    expect(sql.split('\n')).toEqual([
      'WITH r AS (',
      '  SELECT t.ctid AS c, pg_column_size(t.*)::int8 AS sz, CASE WHEN pg_column_size(t.*) > $1::int8 THEN ARRAY[]::int8[] END AS parts' +
        ', CASE WHEN true THEN pg_column_size(ROW(id)) - CASE WHEN (id) IS NULL THEN 8 ELSE 16 END END AS k0' +
        ', CASE WHEN ((id > 10)) THEN pg_column_size(ROW(lower("Name"), id)) - CASE WHEN (lower("Name")) IS NULL OR (id) IS NULL THEN 8 ELSE 16 END END AS k1' +
        ' FROM ONLY "s"."t" t',
      ')',
      "SELECT coalesce(array_agg(CASE WHEN parts IS NULL THEN (sz + 7) / 8 * 8 + 4 ELSE -1 END ORDER BY c), '{}') AS spaces,",
      "       coalesce((SELECT json_agg(parts ORDER BY c) FROM r WHERE parts IS NOT NULL), '[]'::json) AS toasted,",
      '       count(k0)::int8 AS k0_rows, coalesce(sum((k0 + 7) / 8 * 8 + 4), 0)::float8 AS k0_bytes,',
      '       count(k1)::int8 AS k1_rows, coalesce(sum((k1 + 7) / 8 * 8 + 4), 0)::float8 AS k1_bytes',
      'FROM r',
    ]);
  });
});
