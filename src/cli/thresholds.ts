/**
 * The connection's bloat thresholds applied to a run's selection: which tables are repacked,
 * which are skipped (one line each, with their figures), and which were named in `tables`
 * and are repacked although below a threshold.
 */
import type { ConnectionConfig } from '../config/types.js';
import { displayQualified } from '../db/ident.js';
import type { Candidate } from '../inspect/select.js';
import { decideThreshold, figuresText, thresholdsSet, type BloatFigures } from '../plan/bloat-threshold.js';

export interface ThresholdOutcome {
  kept: Candidate[];
  skipped: { candidate: Candidate; line: string }[];
  /** Named in `tables`, below a threshold, repacked anyway. */
  namedBelow: { candidate: Candidate; line: string }[];
}

export function figuresOf(c: Candidate): BloatFigures {
  return { totalBytes: c.totalBytes, reclaimableBytes: c.bloat ? c.bloat.reclaimableBytes : c.estimatedBloatBytes };
}

export function thresholdText(conn: Pick<ConnectionConfig, 'minBloatRatio' | 'minBloatBytes'>): string {
  return `min_bloat_ratio ${conn.minBloatRatio}, min_bloat_bytes ${conn.minBloatBytes}`;
}

export function applyThresholds(candidates: Candidate[], conn: Pick<ConnectionConfig, 'minBloatRatio' | 'minBloatBytes'>): ThresholdOutcome {
  const out: ThresholdOutcome = { kept: [], skipped: [], namedBelow: [] };
  for (const c of candidates) {
    const d = decideThreshold(figuresOf(c), conn, c.namedDirectly === true);
    const name = displayQualified(c);
    if (d.verdict === 'skip') {
      out.skipped.push({ candidate: c, line: `${name}: skipped, below the bloat thresholds (${d.below}): ${figuresText(figuresOf(c))}` });
    } else {
      if (d.verdict === 'named') {
        out.namedBelow.push({
          candidate: c,
          line: `${name}: below the bloat thresholds (${d.below}) but named in tables, so repacked: ${figuresText(figuresOf(c))}`,
        });
      }
      out.kept.push(c);
    }
  }
  if (thresholdsSet(conn)) out.kept = renumberPartitions(out.kept);
  return out;
}

/** Leaves left out change "partition 2 of 5": count again among those kept. */
export function renumberPartitions(candidates: Candidate[]): Candidate[] {
  const total = new Map<string, number>();
  for (const c of candidates) if (c.partitionOf) total.set(c.partitionOf.root, (total.get(c.partitionOf.root) ?? 0) + 1);
  const seen = new Map<string, number>();
  return candidates.map((c) => {
    if (!c.partitionOf) return c;
    const number = (seen.get(c.partitionOf.root) ?? 0) + 1;
    seen.set(c.partitionOf.root, number);
    return { ...c, partitionOf: { root: c.partitionOf.root, number, of: total.get(c.partitionOf.root)! } };
  });
}
