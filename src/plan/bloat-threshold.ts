/**
 * Whether a table is worth a repack under the connection's bloat thresholds, and the line that
 * says why a table was left out. Pure: the figures come from inspect/bloat.ts.
 */
import { formatBytes } from '../report/log-events.js';

export interface Thresholds {
  minBloatRatio: number;
  minBloatBytes: number;
}

export interface BloatFigures {
  /** Heap, TOAST and indexes. */
  totalBytes: number;
  /** What a repack gives back (heap, TOAST and the btree indexes estimated); null: unknown. */
  reclaimableBytes: number | null;
}

export type ThresholdDecision =
  | { verdict: 'pass' }
  /** Named in `tables`: repacked although below a threshold. */
  | { verdict: 'named'; below: string }
  | { verdict: 'skip'; below: string };

export function thresholdsSet(t: Thresholds): boolean {
  return t.minBloatRatio > 0 || t.minBloatBytes > 0;
}

/** reclaimable / total; null when either is unknown or the table is empty. */
export function bloatRatioOf(f: BloatFigures): number | null {
  return f.reclaimableBytes === null || f.totalBytes <= 0 ? null : f.reclaimableBytes / f.totalBytes;
}

export function percent(ratio: number | null): string {
  return ratio === null ? 'unknown' : `${(100 * ratio).toFixed(1)}%`;
}

/**
 * A table passes when its estimated reclaimable bytes reach min_bloat_bytes AND its ratio
 * reaches min_bloat_ratio. An unknown estimate passes only when no threshold is set: a
 * threshold asks for evidence. A table the user named passes regardless.
 */
export function decideThreshold(f: BloatFigures, t: Thresholds, namedDirectly: boolean): ThresholdDecision {
  if (!thresholdsSet(t)) return { verdict: 'pass' };
  const ratio = bloatRatioOf(f);
  const misses: string[] = [];
  if (f.reclaimableBytes === null) misses.push('bloat unknown');
  else {
    if (f.reclaimableBytes < t.minBloatBytes) misses.push(`${formatBytes(f.reclaimableBytes)} < min_bloat_bytes ${formatBytes(t.minBloatBytes)}`);
    if (ratio !== null && ratio < t.minBloatRatio) misses.push(`${percent(ratio)} < min_bloat_ratio ${percent(t.minBloatRatio)}`);
    if (ratio === null && t.minBloatRatio > 0) misses.push('ratio unknown (empty table)');
  }
  if (misses.length === 0) return { verdict: 'pass' };
  return namedDirectly ? { verdict: 'named', below: misses.join(', ') } : { verdict: 'skip', below: misses.join(', ') };
}

/** The figures in one phrase: `12.0 MB of 40.0 MB reclaimable (30.0%)`. */
export function figuresText(f: BloatFigures): string {
  return f.reclaimableBytes === null
    ? `${formatBytes(f.totalBytes)}, reclaimable unknown`
    : `${formatBytes(f.reclaimableBytes)} of ${formatBytes(f.totalBytes)} reclaimable (${percent(bloatRatioOf(f))})`;
}
