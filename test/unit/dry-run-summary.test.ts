/** The dry run's per-table summary: sizes, space, copy mode, locks with their bounds, phases. */
import { describe, expect, it } from 'vitest';
import { copyModeText, otherLocks, tableLocks, tableSummary, type PlannedPhase } from '../../src/cli/dry-run-summary.js';
import { extraSpaceBytes, expectedCopyTableBytes } from '../../src/inspect/select.js';
import { createCaptureTriggers, dropCaptureTriggers } from '../../src/plan/capture.js';
import { validateForeignKey } from '../../src/plan/swap.js';
import { facts } from '../support/facts.js';

const f = facts();
const table = '"public"."orders"';
const view = '"public"."orders_view"';
const phases: PlannedPhase[] = [
  { key: 'capture', title: 'capture', budget: '', steps: [{ description: 'create the change log', sql: 'CREATE TABLE x ()' }, { ...createCaptureTriggers(f), locks: [{ table, level: 'SHARE ROW EXCLUSIVE' }] }] },
  { key: 'copy', title: 'copy', budget: '', steps: [{ description: 'copy the rows', sql: 'INSERT ...' }] },
  { key: 'indexes', title: 'indexes', budget: '', steps: [{ description: 'build index', sql: 'CREATE INDEX ...' }] },
  { key: 'replay', title: 'replay', budget: '', steps: [{ description: 'replay a batch', sql: 'DELETE ...' }] },
  {
    key: 'swap', title: 'swap', budget: '',
    steps: [
      { description: `lock view ${view}`, sql: '...', locks: [{ table: view, level: 'ACCESS EXCLUSIVE' }] },
      { description: `lock ${table}`, sql: '...', locks: [{ table, level: 'ACCESS EXCLUSIVE' }] },
      { ...dropCaptureTriggers(f), locks: [{ table, level: 'ACCESS EXCLUSIVE' }] },
    ],
  },
  {
    key: 'after', title: 'after the swap', budget: '',
    steps: [
      validateForeignKey('"public"."lines"', 'lines_order_fkey'),
      { description: 'ANALYZE', sql: `ANALYZE ${table}`, locks: [{ table, level: 'SHARE UPDATE EXCLUSIVE' }] },
    ],
  },
];
const bounds = { lockTimeoutMs: 2000, swapStatementTimeoutMs: 5000, swapAttempts: 4, swapBudgetMs: 100, cleanupAttempts: 10 };

describe('dry-run summary', () => {
  it('lists every lock on the table in run order, each with its bound, and the cleanup lock last', () => {
    expect(tableLocks(phases, table, bounds)).toEqual([
      { level: 'SHARE ROW EXCLUSIVE', what: 'capture, to create the triggers: waits up to lock_timeout 2000 ms, 4 tries with backoff; held for milliseconds' },
      {
        level: 'ACCESS EXCLUSIVE',
        what: 'swap: waits up to lock_timeout 2000 ms, then held for the final catch-up (tried only when predicted under 100 ms) and the renames, statement_timeout 5000 ms; 4 attempts',
      },
      { level: 'SHARE UPDATE EXCLUSIVE', what: 'after the swap, ANALYZE: waits up to lock_timeout 2000 ms, 10 tries; reads and writes go on' },
      {
        level: 'ACCESS EXCLUSIVE',
        what: "only when the run's work is removed (failure, stop, abort_repack), to drop the capture triggers: waits up to lock_timeout 2000 ms, 10 tries",
      },
    ]);
  });

  it('bounds the swap by swap_deadline and swap_window when they are set', () => {
    const swap = tableLocks(phases, table, { ...bounds, swapDeadlineMs: 3_600_000, swapWindow: '02:00-04:00' })[1]!;
    expect(swap.what).toMatch(/; 4 attempts, then more until 3600 s after the first \(swap_deadline\), only while swap_window 02:00-04:00 is open$/);
  });

  it('names the other relations locked, by phase and level', () => {
    expect(otherLocks(phases, table)).toEqual([
      'swap: ACCESS EXCLUSIVE on "public"."orders_view"',
      'after the swap: SHARE UPDATE EXCLUSIVE on "public"."lines"',
    ]);
  });

  it('says which copy mode and why', () => {
    const base = { configured: 'auto', chunkedFromBytes: 1024 ** 3, ranged: true, parallelSessions: 2, chunkTimeSeconds: 0.5, throttle: 'no throttle set, pause_repack pauses' };
    expect(copyModeText({ ...base, chunked: false })).toBe(
      'snapshot (copy_mode auto: under 1.0 GB): one REPEATABLE READ transaction over 2 sessions, then the indexes',
    );
    expect(copyModeText({ ...base, chunked: true, configured: 'chunked' })).toBe(
      'chunked (copy_mode chunked): indexes first, then key ranges of about 0.5 s, each its own transaction; between them: no throttle set, pause_repack pauses',
    );
  });

  it('renders a few aligned lines: sizes, bloat, size after, extra space, copy mode, locks, phases', () => {
    const sizes = { totalBytes: 300 * 1024 ** 2, heapBytes: 200 * 1024 ** 2, indexBytes: 90 * 1024 ** 2, estimatedBloatBytes: 100 * 1024 ** 2 };
    const after = extraSpaceBytes(sizes);
    expect(after).toBe(150 * 1024 ** 2);
    expect(expectedCopyTableBytes(sizes)).toBe(105 * 1024 ** 2);
    const lines = tableSummary({
      sizes: { totalBytes: sizes.totalBytes, heapBytes: sizes.heapBytes, indexBytes: sizes.indexBytes, bloatBytes: sizes.estimatedBloatBytes, afterBytes: after },
      copy: { chunked: false, configured: 'auto', chunkedFromBytes: 1024 ** 3, ranged: true, parallelSessions: 2, chunkTimeSeconds: 0.5, throttle: '' },
      phases, lockRef: table, bounds,
    });
    expect(lines.slice(0, 6)).toEqual([
      '   size now         300.0 MB: heap 200.0 MB, indexes 90.0 MB, TOAST and maps 10.0 MB',
      '   estimated bloat  100.0 MB, 50% of the heap (from statistics)',
      '   expected after   about 150.0 MB',
      '   extra space      about 150.0 MB during the run (the copy and its indexes), plus the change log and WAL of the writes meanwhile',
      '   copy mode        snapshot (copy_mode auto: under 1.0 GB): one REPEATABLE READ transaction over 2 sessions, then the indexes',
      "   locks on it      a wait is also the longest the application's queries on the table queue behind it",
    ]);
    expect(lines[6]).toBe('     SHARE ROW EXCLUSIVE     capture, to create the triggers: waits up to lock_timeout 2000 ms, 4 tries with backoff; held for milliseconds');
    expect(lines[8]).toMatch(/^ {5}SHARE UPDATE EXCLUSIVE {2}after the swap, ANALYZE/);
    expect(lines.at(-2)).toBe('   other locks      swap: ACCESS EXCLUSIVE on "public"."orders_view"; after the swap: SHARE UPDATE EXCLUSIVE on "public"."lines"');
    expect(lines.at(-1)).toBe('   phases           capture > copy > indexes > replay > swap > after the swap');
  });
});
