/**
 * Rows per chunk of the chunked copy, adapted so that each chunk's transaction lasts about the
 * target time: the rate of the last chunk predicts the next, within a factor of 4 either way,
 * so one slow or fast chunk (a cold cache, a checkpoint) does not swing the size wildly.
 */
export class ChunkSizer {
  private size: number;

  constructor(
    private readonly targetMs: number,
    private readonly limits = { first: 500, min: 50, max: 2_000_000 },
  ) {
    this.size = limits.first;
  }

  next(): number {
    return this.size;
  }

  /** A chunk of `rows` rows took `ms` in all (its replay included). */
  record(rows: number, ms: number): void {
    if (rows <= 0) return;
    const ratio = Math.min(4, Math.max(0.25, this.targetMs / Math.max(ms, 1)));
    this.size = Math.round(Math.min(this.limits.max, Math.max(this.limits.min, this.size * ratio)));
  }
}
