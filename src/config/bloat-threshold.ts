/**
 * The bloat thresholds of a connection (`min_bloat_ratio`, `min_bloat_bytes`): which tables
 * of a schema-wide run are worth a repack. Read here; decided in plan/bloat-threshold.ts.
 */
import { fail, numberOf, ok, type Coercer } from './coerce.js';

/** A fraction from 0 to 1 (0.2), or a percentage text ("20%"). */
export const bloatRatio: Coercer<number> = (raw) => {
  const expected = 'a fraction from 0 to 1 (0.2) or a percentage ("20%")';
  let n: number | undefined;
  if (typeof raw === 'string' && raw.trim().endsWith('%')) {
    const p = numberOf(raw.trim().slice(0, -1));
    n = p === undefined ? undefined : p / 100;
  } else {
    n = numberOf(raw);
  }
  return n !== undefined && n >= 0 && n <= 1 ? ok(n) : fail(expected);
};

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

/** Bytes (a number), or a size text as PostgreSQL writes them: "500MB", "1GB", "1.5 GB", "64kB" (units of 1024). */
export const byteSize: Coercer<number> = (raw) => {
  const expected = 'a number of bytes or a size such as "500MB" or "1GB" (B, kB, MB, GB, TB)';
  const plain = numberOf(raw);
  if (plain !== undefined) return plain >= 0 ? ok(Math.round(plain)) : fail(expected);
  if (typeof raw !== 'string') return fail(expected);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?b)\s*$/i.exec(raw);
  if (!m) return fail(expected);
  return ok(Math.round(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!));
};
