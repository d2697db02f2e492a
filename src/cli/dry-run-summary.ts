/**
 * The few lines a DBA reads first in `--dry-run`, per table, before its SQL: sizes, estimated
 * bloat, expected size after, extra space during the run, copy mode, every lock taken on the
 * application's table with its bound, and the phases in order. Pure: the dry run gathers the
 * figures and the planned steps, this turns them into aligned text.
 */
import type { LockLevel, Step } from '../plan/step.js';
import { formatBytes } from '../report/log-events.js';

export type PhaseKey = 'capture' | 'copy' | 'indexes' | 'replay' | 'swap' | 'after';

/** One phase of the plan: its SQL steps, as the SQL section prints them. */
export interface PlannedPhase {
  key: PhaseKey;
  /** Heading of its SQL section. */
  title: string;
  steps: Step[];
  /** The bound each of its locking statements runs under, in words. */
  budget: string;
}

/** What bounds the locks, from the connection's settings. */
export interface LockBounds {
  lockTimeoutMs: number;
  /** Each statement of the swap's transaction (swapStatementTimeoutMs). */
  swapStatementTimeoutMs: number;
  swapAttempts: number;
  /** A swap is tried only when its final catch-up is predicted to fit this. */
  swapBudgetMs: number;
  /** Tries of each bounded step after the swap, and of the cleanup after a failure. */
  cleanupAttempts: number;
  /** swap_deadline in ms: more attempts after swapAttempts, until that long after the first. */
  swapDeadlineMs?: number | null;
  /** swap_window as written (`02:00-04:00`): attempts only while it is open. */
  swapWindow?: string | null;
}

export interface TableSizes {
  totalBytes: number;
  heapBytes: number;
  indexBytes: number;
  bloatBytes: number;
  /** Expected total size after the repack (the compact copy and its indexes). */
  afterBytes: number;
}

export interface CopyModeFacts {
  chunked: boolean;
  /** The copy_mode key as configured: auto, snapshot, chunked. */
  configured: string;
  /** The size from which copy_mode auto copies in chunks. */
  chunkedFromBytes: number;
  /** Page ranges shared by several sessions (PostgreSQL 14 and later). */
  ranged: boolean;
  parallelSessions: number;
  chunkTimeSeconds: number;
  /** What holds the chunked copy back between chunks, in words. */
  throttle: string;
}

export interface SummaryLock {
  level: LockLevel;
  /** When and why, with its bound. */
  what: string;
}

const PHASE_NAMES: Record<PhaseKey, string> = {
  capture: 'capture',
  copy: 'copy',
  indexes: 'indexes',
  replay: 'replay',
  swap: 'swap',
  after: 'after the swap',
};

/** Strongest first, as PostgreSQL orders them. */
const LEVELS: LockLevel[] = ['ACCESS EXCLUSIVE', 'SHARE ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'ROW EXCLUSIVE', 'ACCESS SHARE'];

function levelsOn(steps: Step[], table: string): LockLevel[] {
  const found = new Set(steps.flatMap((s) => (s.locks ?? []).filter((l) => l.table === table).map((l) => l.level)));
  return LEVELS.filter((l) => found.has(l));
}

/** How many swap attempts, and for how long: swap_attempts, swap_deadline, swap_window. */
function swapBudget(b: LockBounds): string {
  const more = b.swapDeadlineMs ? `, then more until ${Math.round(b.swapDeadlineMs / 1000)} s after the first (swap_deadline)` : '';
  const window = b.swapWindow ? `, only while swap_window ${b.swapWindow} is open` : '';
  return `${b.swapAttempts} attempts${more}${window}`;
}

/** Every lock the run takes on the application's table `table` (quoted, as steps name it), in order. */
export function tableLocks(phases: PlannedPhase[], table: string, b: LockBounds): SummaryLock[] {
  const out: SummaryLock[] = [];
  const wait = `waits up to lock_timeout ${b.lockTimeoutMs} ms`;
  for (const phase of phases) {
    const levels = levelsOn(phase.steps, table);
    if (levels.length === 0) continue;
    const doing = [...new Set(phase.steps.filter((s) => s.locks?.some((l) => l.table === table)).map((s) => s.description))].join(', ');
    const what =
      phase.key === 'capture'
        ? `capture, to create the triggers: ${wait}, ${b.swapAttempts} tries with backoff; held for milliseconds`
        : phase.key === 'swap'
          ? `swap: ${wait}, then held for the final catch-up (tried only when predicted under ${b.swapBudgetMs} ms) and the renames, ` +
            `statement_timeout ${b.swapStatementTimeoutMs} ms; ${swapBudget(b)}`
          : phase.key === 'after'
            ? `${PHASE_NAMES.after}, ${doing}: ${wait}, ${b.cleanupAttempts} tries; reads and writes go on`
            : `${PHASE_NAMES[phase.key]}, ${doing}: ${wait}`;
    // One line per phase: the swap's trigger drop, say, runs under the ACCESS EXCLUSIVE it holds.
    out.push({ level: levels[0]!, what });
  }
  out.push({
    level: 'ACCESS EXCLUSIVE',
    what: `only when the run's work is removed (failure, stop, abort_repack), to drop the capture triggers: ${wait}, ${b.cleanupAttempts} tries`,
  });
  return out;
}

/** Locks on other relations (views, foreign-key partners), by phase: `swap: ACCESS EXCLUSIVE on a, b`. */
export function otherLocks(phases: PlannedPhase[], table: string): string[] {
  const out: string[] = [];
  for (const phase of phases) {
    const byLevel = new Map<LockLevel, string[]>();
    for (const l of phase.steps.flatMap((s) => s.locks ?? [])) {
      if (l.table === table) continue;
      const list = byLevel.get(l.level) ?? [];
      if (!list.includes(l.table)) list.push(l.table);
      byLevel.set(l.level, list);
    }
    for (const level of LEVELS) {
      const list = byLevel.get(level);
      if (list) out.push(`${PHASE_NAMES[phase.key]}: ${level} on ${list.join(', ')}`);
    }
  }
  return out;
}

export function copyModeText(c: CopyModeFacts): string {
  const why =
    c.configured === 'auto'
      ? `copy_mode auto: ${c.chunked ? 'from' : 'under'} ${formatBytes(c.chunkedFromBytes)}`
      : `copy_mode ${c.configured}`;
  return c.chunked
    ? `chunked (${why}): indexes first, then key ranges of about ${c.chunkTimeSeconds} s, each its own transaction; between them: ${c.throttle}`
    : `snapshot (${why}): one REPEATABLE READ transaction${c.ranged ? ` over ${c.parallelSessions} sessions` : ''}, then the indexes`;
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((100 * part) / whole)}%` : '0%';
}

const LABEL = 17;
const LEVEL = 'SHARE UPDATE EXCLUSIVE'.length + 2;

/** The summary lines of one table, indented under its numbered heading. */
export function tableSummary(input: {
  sizes: TableSizes;
  copy: CopyModeFacts;
  phases: PlannedPhase[];
  /** The table as the steps name it in their locks (quoted). */
  lockRef: string;
  bounds: LockBounds;
}): string[] {
  const { sizes: s, phases } = input;
  const row = (label: string, text: string) => `   ${label.padEnd(LABEL)}${text}`;
  const other = Math.max(0, s.totalBytes - s.heapBytes - s.indexBytes);
  const lines = [
    row('size now', `${formatBytes(s.totalBytes)}: heap ${formatBytes(s.heapBytes)}, indexes ${formatBytes(s.indexBytes)}, TOAST and maps ${formatBytes(other)}`),
    row('estimated bloat', `${formatBytes(s.bloatBytes)}, ${percent(s.bloatBytes, s.heapBytes)} of the heap (from statistics)`),
    row('expected after', `about ${formatBytes(s.afterBytes)}`),
    row('extra space', `about ${formatBytes(s.afterBytes)} during the run (the copy and its indexes), plus the change log and WAL of the writes meanwhile`),
    row('copy mode', copyModeText(input.copy)),
    row('locks on it', "a wait is also the longest the application's queries on the table queue behind it"),
    ...tableLocks(phases, input.lockRef, input.bounds).map((l) => `     ${l.level.padEnd(LEVEL)}${l.what}`),
  ];
  const others = otherLocks(phases, input.lockRef);
  if (others.length > 0) lines.push(row('other locks', others.join('; ')));
  lines.push(row('phases', phases.map((p) => PHASE_NAMES[p.key]).join(' > ')));
  return lines;
}
