/**
 * The replay-speed estimator. It compares how fast the application adds log rows (change rate,
 * from the log's id sequence, sampled every check_time seconds) with how fast rpcl replays them
 * (replay rate, from the batches' own timings), predicts how long the final catch-up under the
 * swap lock would take, and says when a swap may be attempted, or that replay cannot keep up.
 */

export interface EstimatorOptions {
  /** Longest acceptable final catch-up under the ACCESS EXCLUSIVE lock. */
  swapBudgetMs: number;
  /** Fixed cost of the swap's catalog work, added to every prediction. */
  swapOverheadMs: number;
  /** Most log rows the final catch-up may replay under the lock (max_replay_rows). */
  maxSwapRows: number;
}

export interface Estimate {
  backlog: number;
  changeRate: number | null;
  replayRate: number | null;
  predictedSwapMs: number | null;
}

export class ReplayEstimator {
  private replayedRows = 0;
  private replayMs = 0;
  private lastSample: { at: number; logged: number } | null = null;
  private changeRate: number | null = null;
  /** Windows in a row where the log grew faster than replay drained it. */
  losingWindows = 0;

  constructor(private readonly opts: EstimatorOptions) {}

  recordBatch(rows: number, ms: number): void {
    this.replayedRows += rows;
    this.replayMs += ms;
  }

  /** rows/s of replay work, over every batch that had rows (idle polls say nothing about speed). */
  replayRate(): number | null {
    return this.replayedRows > 0 && this.replayMs > 0 ? (this.replayedRows / this.replayMs) * 1000 : null;
  }

  /**
   * A check_time sample: `logged` is the total number of log rows ever written (the sequence),
   * `backlog` those not yet replayed. Returns whether replay is losing ground this window.
   */
  sample(at: number, logged: number, backlogBefore: number, backlogNow: number): boolean {
    if (this.lastSample !== null && at > this.lastSample.at) {
      this.changeRate = ((logged - this.lastSample.logged) / (at - this.lastSample.at)) * 1000;
    }
    this.lastSample = { at, logged };
    const replay = this.replayRate();
    const losing = backlogNow > backlogBefore && replay !== null && this.changeRate !== null && this.changeRate > replay;
    this.losingWindows = losing ? this.losingWindows + 1 : 0;
    return losing;
  }

  predictSwapMs(backlog: number): number | null {
    if (backlog === 0) return this.opts.swapOverheadMs;
    const rate = this.replayRate();
    if (rate === null) return null;
    return (backlog / rate) * 1000 + this.opts.swapOverheadMs;
  }

  /** A swap may be attempted when the predicted catch-up under the lock fits the budget. */
  swapFits(backlog: number): boolean {
    if (backlog > this.opts.maxSwapRows) return false;
    const predicted = this.predictSwapMs(backlog);
    return predicted !== null && predicted <= this.opts.swapBudgetMs;
  }

  estimate(backlog: number): Estimate {
    return {
      backlog,
      changeRate: this.changeRate,
      replayRate: this.replayRate(),
      predictedSwapMs: this.predictSwapMs(backlog),
    };
  }
}
