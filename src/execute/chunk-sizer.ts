/**
 * Rows per chunk of the chunked copy, adapted so that each chunk's transaction lasts about the
 * target time: the rate of the last chunk predicts the next, within a factor of 4 either way,
 * so one slow or fast chunk (a cold cache, a checkpoint) does not swing the size wildly.
 * With a WAL budget per chunk (max_wal_rate), a chunk is also kept to that much WAL at the
 * largest WAL per row seen lately: the throttle can only wait between chunks, so a chunk's
 * burst is what it cannot smooth.
 */
export class ChunkSizer {
  private size: number;
  /** WAL per row, the largest seen lately (a checkpoint's full-page writes make it jump). */
  private walPerRow = 0;

  constructor(
    private readonly targetMs: number,
    private readonly limits = { first: 500, min: 50, max: 2_000_000 },
    private readonly maxWalBytes: number | null = null,
  ) {
    this.size = limits.first;
  }

  next(): number {
    return this.size;
  }

  /** A chunk of `rows` rows took `ms` in all (its replay included) and wrote `walBytes`. */
  record(rows: number, ms: number, walBytes = 0): void {
    if (rows <= 0) return;
    const ratio = Math.min(4, Math.max(0.25, this.targetMs / Math.max(ms, 1)));
    let size = this.size * ratio;
    if (this.maxWalBytes !== null) {
      this.walPerRow = Math.max(this.walPerRow * 0.9, walBytes / rows);
      if (this.walPerRow > 0) size = Math.min(size, this.maxWalBytes / this.walPerRow);
    }
    this.size = Math.round(Math.min(this.limits.max, Math.max(this.limits.min, size)));
  }
}
