/** The bloat thresholds: how they are read from a config, and which tables they let through. */
import { describe, expect, it } from 'vitest';
import { bloatRatio, byteSize } from '../../src/config/bloat-threshold.js';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { bloatRatioOf, decideThreshold, figuresText } from '../../src/plan/bloat-threshold.js';
import { applyThresholds, renumberPartitions } from '../../src/cli/thresholds.js';
import type { Candidate } from '../../src/inspect/select.js';

const MB = 1024 ** 2;

function problems(lines: string): string[] {
  try {
    parseConfig(`[connections.prod]\n${lines}\n`, '/f.toml', 'default', '/home/dba');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('reading the thresholds', () => {
  it.each([
    [0.2, 0.2], ['0.25', 0.25], ['20%', 0.2], [' 5.5% ', 0.055], [0, 0], [1, 1], ['100%', 1],
  ])('min_bloat_ratio %j is %j', (raw, value) => {
    expect(bloatRatio(raw)).toEqual({ ok: true, value });
  });

  it.each([[1.5], ['150%'], [-0.1], ['twenty'], ['%'], [true]])('refuses min_bloat_ratio %j', (raw) => {
    expect(bloatRatio(raw).ok).toBe(false);
  });

  it.each([
    [0, 0], [1048576, MB], ['500MB', 500 * MB], ['1GB', 1024 * MB], ['1.5 GB', 1.5 * 1024 * MB], ['64kB', 65536], ['64KB', 65536],
    ['10b', 10], ['2TB', 2 * 1024 ** 4], ['123', 123],
  ])('min_bloat_bytes %j is %j', (raw, value) => {
    expect(byteSize(raw)).toEqual({ ok: true, value });
  });

  it.each([['-1'], [-5], ['5 XB'], ['MB'], ['1e3GB'], [false]])('refuses min_bloat_bytes %j', (raw) => {
    expect(byteSize(raw).ok).toBe(false);
  });

  it('puts both in the connection, defaults 0', () => {
    const c = parseConfig('[connections.a]\nmin_bloat_ratio = "20%"\nmin_bloat_bytes = "500MB"\n[connections.b]\n', '/f.toml', 'default', '/h');
    expect(c.connections.map((x) => [x.minBloatRatio, x.minBloatBytes])).toEqual([[0.2, 500 * MB], [0, 0]]);
  });

  it('reports both problems at once, naming the key and what is expected', () => {
    expect(problems('min_bloat_ratio = 2\nmin_bloat_bytes = "lots"')).toEqual([
      'connections.prod.min_bloat_ratio: expected a fraction from 0 to 1 (0.2) or a percentage ("20%"), got 2',
      'connections.prod.min_bloat_bytes: expected a number of bytes or a size such as "500MB" or "1GB" (B, kB, MB, GB, TB), got "lots"',
    ]);
  });
});

describe('deciding', () => {
  const none = { minBloatRatio: 0, minBloatBytes: 0 };
  const both = { minBloatRatio: 0.2, minBloatBytes: 10 * MB };

  it('lets everything through when no threshold is set, unknown bloat included', () => {
    expect(decideThreshold({ totalBytes: 100, reclaimableBytes: 0 }, none, false)).toEqual({ verdict: 'pass' });
    expect(decideThreshold({ totalBytes: 100, reclaimableBytes: null }, none, false)).toEqual({ verdict: 'pass' });
  });

  it('needs both the bytes and the ratio', () => {
    expect(decideThreshold({ totalBytes: 40 * MB, reclaimableBytes: 12 * MB }, both, false)).toEqual({ verdict: 'pass' });
    // Enough bytes, too small a share of a big table.
    expect(decideThreshold({ totalBytes: 100 * MB, reclaimableBytes: 12 * MB }, both, false)).toEqual({
      verdict: 'skip', below: '12.0% < min_bloat_ratio 20.0%',
    });
    // A large share of a small table.
    expect(decideThreshold({ totalBytes: 10 * MB, reclaimableBytes: 5 * MB }, both, false)).toEqual({
      verdict: 'skip', below: '5.0 MB < min_bloat_bytes 10.0 MB',
    });
    expect(decideThreshold({ totalBytes: 100 * MB, reclaimableBytes: MB }, both, false)).toEqual({
      verdict: 'skip', below: '1.0 MB < min_bloat_bytes 10.0 MB, 1.0% < min_bloat_ratio 20.0%',
    });
  });

  it('passes at the threshold exactly', () => {
    expect(decideThreshold({ totalBytes: 50 * MB, reclaimableBytes: 10 * MB }, both, false)).toEqual({ verdict: 'pass' });
  });

  it('skips an unknown estimate when a threshold is set, and a table named in tables goes through regardless', () => {
    expect(decideThreshold({ totalBytes: 50 * MB, reclaimableBytes: null }, both, false)).toEqual({ verdict: 'skip', below: 'bloat unknown' });
    expect(decideThreshold({ totalBytes: 100 * MB, reclaimableBytes: MB }, both, true)).toEqual({
      verdict: 'named', below: '1.0 MB < min_bloat_bytes 10.0 MB, 1.0% < min_bloat_ratio 20.0%',
    });
  });

  it('says the figures in one phrase', () => {
    expect(figuresText({ totalBytes: 40 * MB, reclaimableBytes: 12 * MB })).toBe('12.0 MB of 40.0 MB reclaimable (30.0%)');
    expect(figuresText({ totalBytes: 40 * MB, reclaimableBytes: null })).toBe('40.0 MB, reclaimable unknown');
    expect(bloatRatioOf({ totalBytes: 0, reclaimableBytes: 0 })).toBeNull();
  });
});

function candidate(oid: number, total: number, reclaimable: number | null, extra: Partial<Candidate> = {}): Candidate {
  return {
    oid, schema: 's', name: `t${oid}`, listed: false, estimatedBloatBytes: 0, heapBytes: total, indexBytes: 0, totalBytes: total,
    partitionOf: null,
    bloat: { table: { oid, kind: 'table', bytes: total, reclaimableBytes: reclaimable, ratio: null, pagesRead: 1, method: 'm', liveRows: 1 }, indexes: [], reclaimableBytes: reclaimable, indexUnknown: 0, pagesRead: 1 },
    ...extra,
  };
}

describe('applying to a selection', () => {
  it('keeps what passes in order, one line per skipped table, a note for a named table below', () => {
    const out = applyThresholds(
      [candidate(1, 100 * MB, 60 * MB), candidate(2, 100 * MB, 2 * MB), candidate(3, 10 * MB, MB, { namedDirectly: true, listed: true })],
      { minBloatRatio: 0.2, minBloatBytes: 0 },
    );
    expect(out.kept.map((c) => c.oid)).toEqual([1, 3]);
    expect(out.skipped.map((s) => s.line)).toEqual(['s.t2: skipped, below the bloat thresholds (2.0% < min_bloat_ratio 20.0%): 2.0 MB of 100.0 MB reclaimable (2.0%)']);
    expect(out.namedBelow.map((s) => s.line)).toEqual([
      's.t3: below the bloat thresholds (10.0% < min_bloat_ratio 20.0%) but named in tables, so repacked: 1.0 MB of 10.0 MB reclaimable (10.0%)',
    ]);
  });

  it('numbers the partitions kept again', () => {
    const leaf = (oid: number, n: number) => candidate(oid, MB, 0, { partitionOf: { root: 's.p', number: n, of: 3 } });
    expect(renumberPartitions([leaf(1, 1), leaf(3, 3)]).map((c) => c.partitionOf)).toEqual([
      { root: 's.p', number: 1, of: 2 }, { root: 's.p', number: 2, of: 2 },
    ]);
  });
});
