/** repack_indexes' pure part: which indexes a run takes, and the exact SQL of its statements. */
import { describe, expect, it } from 'vitest';
import type { IndexFacts } from '../../src/inspect/indexes.js';
import {
  belowThresholds, chooseIndexes, dropIndexConcurrently, indexRefusal, isRebuildName, refusalCounts, reindexConcurrently, unknownIndexNames,
} from '../../src/plan/reindex.js';
import { subjectOf, summaryLines } from '../../src/cli/summary.js';
import { reportBody, reportSubject } from '../../src/report/email.js';

function idx(over: Partial<IndexFacts> = {}): IndexFacts {
  return {
    oid: 100, schema: 'Sales Data', name: 'with"quote', tableOid: 10, tableSchema: 'Sales Data', tableName: 'Order',
    bytes: 1000, valid: true, exclusion: false, partitioned: false, owner: 'app', canActAsOwner: true, system: false, ...over,
  };
}

describe('statements', () => {
  it('rebuilds with REINDEX INDEX CONCURRENTLY, quoted, under SHARE UPDATE EXCLUSIVE on the table', () => {
    expect(reindexConcurrently(idx())).toEqual({
      description: 'rebuild index "Sales Data"."with""quote" online (a new copy, swapped in by name)',
      sql: 'REINDEX INDEX CONCURRENTLY "Sales Data"."with""quote"',
      locks: [{ table: '"Sales Data"."Order"', level: 'SHARE UPDATE EXCLUSIVE' }],
    });
  });

  it('drops a leftover with DROP INDEX CONCURRENTLY IF EXISTS', () => {
    expect(dropIndexConcurrently({ schema: 'Sales Data', name: 'with"quote_ccnew' }, { schema: 'Sales Data', name: 'select' })).toEqual({
      description: 'drop the leftover index "Sales Data"."with""quote_ccnew" of an interrupted rebuild',
      sql: 'DROP INDEX CONCURRENTLY IF EXISTS "Sales Data"."with""quote_ccnew"',
      locks: [{ table: '"Sales Data".select', level: 'SHARE UPDATE EXCLUSIVE' }],
    });
  });
});

describe('refusals', () => {
  it('fail the run for a named index always, for a named table only when the refusal is not the kind of index', () => {
    expect(refusalCounts(idx({ exclusion: true }), true, false)).toBe(true);
    expect(refusalCounts(idx({ exclusion: true }), false, true)).toBe(false);
    expect(refusalCounts(idx({ valid: false }), false, true)).toBe(false);
    expect(refusalCounts(idx({ partitioned: true }), false, true)).toBe(false);
    expect(refusalCounts(idx({ canActAsOwner: false }), false, true)).toBe(true);
    expect(refusalCounts(idx({ canActAsOwner: false }), false, false)).toBe(false);
  });

  it('says why, in order: system, partitioned, exclusion, invalid, owner', () => {
    expect(indexRefusal(idx())).toBeNull();
    expect(indexRefusal(idx({ system: true }))).toMatch(/system catalog or to rpcl/);
    expect(indexRefusal(idx({ partitioned: true }))).toMatch(/partitioned index: .*leaf indexes are rebuilt one by one/);
    expect(indexRefusal(idx({ exclusion: true }))).toMatch(/exclusion constraint: PostgreSQL cannot rebuild those CONCURRENTLY/);
    expect(indexRefusal(idx({ valid: false }))).toMatch(/INVALID and rpcl did not create it/);
    expect(indexRefusal(idx({ canActAsOwner: false, owner: 'other' }))).toMatch(/owned by other: REINDEX needs the owner/);
  });
});

describe('chooseIndexes', () => {
  const a = idx({ oid: 1, name: 'a', bytes: 10 });
  const b = idx({ oid: 2, name: 'b', bytes: 30 });
  const c = idx({ oid: 3, name: 'c', bytes: 20, exclusion: true });
  const d = idx({ oid: 4, name: 'd', bytes: 40, valid: false });

  it('takes every rebuildable index, largest first, and refuses the others with their reason', () => {
    const choice = chooseIndexes([a, b, c, d, a], { named: null });
    expect(choice.chosen.map((i) => i.name)).toEqual(['b', 'a']);
    expect(choice.refused.map((r) => [r.index.name, r.reason.slice(0, 29)])).toEqual([
      ['c', 'it backs an exclusion constra'],
      ['d', 'it is INVALID and rpcl did no'],
    ]);
    expect(choice.skipped).toEqual([]);
  });

  it('named: only those', () => {
    const choice = chooseIndexes([a, b, c, d], { named: new Set([1, 3]) });
    expect(choice.chosen.map((i) => i.name)).toEqual(['a']);
    expect(choice.refused.map((r) => r.index.name)).toEqual(['c']);
  });

  it('thresholds skip what is not worth it, with the figures; largest reclaimable first; named indexes are never skipped', () => {
    const mib = 1024 * 1024;
    const estimates = new Map([
      [1, { oid: 1, bytes: 100 * mib, reclaimableBytes: 60 * mib, ratio: 0.6 }],
      [2, { oid: 2, bytes: 100 * mib, reclaimableBytes: 10 * mib, ratio: 0.1 }],
      [5, { oid: 5, bytes: 10 * mib, reclaimableBytes: 5 * mib, ratio: 0.5 }],
    ]);
    const e = idx({ oid: 5, name: 'e', bytes: 10 * mib });
    const thresholds = { minRatio: 0.2, minBytes: 8 * mib };
    const choice = chooseIndexes([a, b, e], { named: null, estimates, thresholds });
    expect(choice.chosen.map((i) => i.name)).toEqual(['a']);
    expect(choice.skipped.map((s) => [s.index.name, s.reason])).toEqual([
      ['b', 'estimated bloat 10.0 MiB of 100.0 MiB (ratio 0.10): below min_bloat_ratio 0.2'],
      ['e', `estimated bloat 5.0 MiB of 10.0 MiB (ratio 0.50): below min_bloat_bytes ${8 * mib}`],
    ]);
    expect(chooseIndexes([a, b, e], { named: new Set([2]), estimates, thresholds }).chosen.map((i) => i.name)).toEqual(['b']);
    // Without thresholds nothing is skipped; with them, an index without an estimate is.
    expect(chooseIndexes([a, b, e], { named: null, estimates }).skipped).toEqual([]);
    expect(chooseIndexes([a, b, e], { named: null, thresholds }).skipped.map((s) => s.index.name)).toEqual(['a', 'b', 'e']);
    expect(belowThresholds(estimates.get(2), { minRatio: null, minBytes: null })).toBeNull();
    expect(belowThresholds({ oid: 9, bytes: 1, reclaimableBytes: null, ratio: null, method: 'unknown: gin index' }, thresholds))
      .toBe('bloat not estimated (unknown: gin index): below the thresholds unless named in indexes or --index');
    expect(belowThresholds({ oid: 9, bytes: 1, reclaimableBytes: null, ratio: null }, { minRatio: null, minBytes: null })).toBeNull();
  });
});

describe('unknownIndexNames', () => {
  it('names what is missing, not an index, or not on a selected table', () => {
    expect(
      unknownIndexNames(
        [
          { name: { schema: 'public', name: 'Nope' }, missing: 'no such index' },
          { name: { schema: 'public', name: 'ok' }, oids: [1] },
          { name: { schema: 'other', name: 'elsewhere' }, oids: [2] },
          { name: { schema: 'public', name: 'empty' }, oids: [] },
        ],
        new Set([1]),
      ),
    ).toEqual([
      `index public."Nope": no such index (check the name; quote mixed-case names: 'public."Name"')`,
      'index other.elsewhere: its table is not among the connection\'s selected tables (schemas, tables): add the table, or leave schemas and tables empty',
      'index public.empty: a partitioned index without leaf indexes: nothing to rebuild',
    ]);
  });
});

describe('isRebuildName', () => {
  it("matches PostgreSQL's _ccnew/_ccold names of that index only", () => {
    expect(isRebuildName('idx', 'idx_ccnew', 'ccnew')).toBe(true);
    expect(isRebuildName('idx', 'idx_ccnew12', 'ccnew')).toBe(true);
    expect(isRebuildName('idx', 'idx_ccold', 'ccold')).toBe(true);
    expect(isRebuildName('idx', 'idx_ccold', 'ccnew')).toBe(false);
    expect(isRebuildName('idx', 'other_ccnew', 'ccnew')).toBe(false);
    expect(isRebuildName('idx', 'idx2_ccnew', 'ccnew')).toBe(false);
    expect(isRebuildName('idx', 'idx_ccnewer', 'ccnew')).toBe(false);
    // A 63-byte name is truncated before the suffix.
    const long = 'x'.repeat(63);
    expect(isRebuildName(long, `${'x'.repeat(57)}_ccnew`, 'ccnew')).toBe(true);
    expect(isRebuildName('xx', `${'x'.repeat(1)}_ccnew`, 'ccnew')).toBe(false);
  });
});

describe('reporting an index outcome', () => {
  const o = { status: 'done' as const, table: 'public.t', index: 'public.t_pkey', connection: 'prod', listed: false, durationMs: 1500, sizeBefore: 4 * 1024 * 1024, sizeAfter: 1024 * 1024 };
  it('names the index and its table on the terminal and in the email', () => {
    expect(subjectOf(o)).toBe('index public.t_pkey (table public.t)');
    expect(summaryLines([o])[0]).toMatch(/^prod index public\.t_pkey \(table public\.t\): done in 1\.5 s, 4\.0 MB -> 1\.0 MB$/);
    const report = { command: 'repack_indexes', configName: 'c', startedAt: new Date(0), endedAt: new Date(0), outcomes: [o, { ...o, status: 'skipped' as const, reason: 'below' }] };
    expect(reportBody(report)).toContain('prod index public.t_pkey (table public.t): done in 1.5 s, 4.0 MB -> 1.0 MB');
    expect(reportSubject(report)).toMatch(/ok: 1 done, 0 failed, 0 refused, 1 skipped$/);
  });
});

describe('--index', () => {
  it('parses schema.index names, quoted like tables; none given is null; a bad one is a usage error naming it', async () => {
    const { parseIndexOption } = await import('../../src/cli/repack-indexes.js');
    expect(parseIndexOption(undefined)).toBeNull();
    expect(parseIndexOption([])).toBeNull();
    expect(parseIndexOption(['public."Mixed Case_pkey"', 'Sales.I'])).toEqual([
      { schema: 'public', name: 'Mixed Case_pkey' },
      { schema: 'sales', name: 'i' },
    ]);
    expect(() => parseIndexOption(['orders_pkey'])).toThrow(/--index orders_pkey: "orders_pkey" must be written as schema.table \(give schema.index\)/);
    let code: number | undefined;
    try {
      parseIndexOption(['a.b.c']);
    } catch (err) {
      code = (err as { exitCode: number }).exitCode;
    }
    expect(code).toBe(2);
  });
});
