import { describe, expect, it } from 'vitest';
import { ReplayEstimator } from '../../src/execute/estimator.js';
import { backoffDelay } from '../../src/db/retry.js';

const make = () => new ReplayEstimator({ swapBudgetMs: 100, swapOverheadMs: 15, maxSwapRows: 1000 });

describe('replay-speed estimator', () => {
  it('an empty backlog always fits', () => {
    expect(make().swapFits(0)).toBe(true);
  });

  it('without a measured replay rate a backlog never fits', () => {
    expect(make().swapFits(1)).toBe(false);
    expect(make().predictSwapMs(1)).toBeNull();
  });

  it('predicts backlog / replay rate plus the swap overhead', () => {
    const e = make();
    e.recordBatch(5000, 1000); // 5000 rows/s
    expect(e.predictSwapMs(250)).toBe(65);
    expect(e.swapFits(250)).toBe(true);
    expect(e.swapFits(500)).toBe(false); // 115 ms
  });

  it('max_replay_rows caps the backlog replayed under the lock', () => {
    const e = make();
    e.recordBatch(1_000_000, 1); // absurdly fast
    expect(e.swapFits(1000)).toBe(true);
    expect(e.swapFits(1001)).toBe(false);
  });

  it('says when changes arrive faster than replay drains them', () => {
    const e = make();
    e.recordBatch(100, 1000); // 100 rows/s replay
    expect(e.sample(0, 0, 0, 10)).toBe(false); // no change rate yet
    expect(e.sample(1000, 500, 10, 300)).toBe(true); // 500 rows/s in, backlog grew
    expect(e.losingWindows).toBe(1);
    expect(e.sample(2000, 1000, 300, 600)).toBe(true);
    expect(e.losingWindows).toBe(2);
    expect(e.estimate(600)).toEqual({ backlog: 600, changeRate: 500, replayRate: 100, predictedSwapMs: 6015 });
    expect(e.sample(3000, 1000, 600, 500)).toBe(false); // backlog shrinking
    expect(e.losingWindows).toBe(0);
  });
});

describe('backoff', () => {
  it('doubles from the base up to the cap', () => {
    const o = { baseDelayMs: 500, maxDelayMs: 3000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, o))).toEqual([500, 1000, 2000, 3000, 3000]);
  });
});

describe('status: time left', async () => {
  const { remainingSeconds } = await import('../../src/cli/status.js');
  it('extrapolates the copy from its pace, the replay from its net drain rate', () => {
    const base = { rows_copied: null, rows_estimate: null, backlog: null, change_rate: null, replay_rate: null };
    expect(remainingSeconds({ ...base, phase: 'copy', rows_copied: 250, rows_estimate: 1000 }, 10)).toBe(30);
    expect(remainingSeconds({ ...base, phase: 'replay', backlog: 900, change_rate: 100, replay_rate: 400 }, 0)).toBe(3);
    expect(remainingSeconds({ ...base, phase: 'replay', backlog: 900, change_rate: 500, replay_rate: 400 }, 0)).toBeNull();
    expect(remainingSeconds({ ...base, phase: 'index' }, 5)).toBeNull();
  });
});
