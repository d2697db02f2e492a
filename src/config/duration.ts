/**
 * `lock_timeout` as PostgreSQL reads a time setting: a number with an optional unit
 * (us, ms, s, min, h, d; blanks allowed before the unit), a bare number meaning milliseconds.
 *
 * The upper bound exists because the swap holds an ACCESS EXCLUSIVE lock request while it
 * waits, and every application query on the table queues behind that request: a long wait
 * stalls the application. Zero is refused because to PostgreSQL it means "wait forever".
 */

import { fail, ok, type Coercer } from './coerce.js';

export const MAX_LOCK_TIMEOUT_MS = 10 * 60 * 1000;

const MS_PER_UNIT: Readonly<Record<string, number>> = {
  '': 1,
  us: 0.001,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Milliseconds in `text`, unrounded; undefined if it is not a number with a known unit. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const factor = MS_PER_UNIT[match[2]!.toLowerCase()];
  return factor === undefined ? undefined : Number(match[1]) * factor;
}

/** Rounds to whole milliseconds, as PostgreSQL does, before checking the range. */
export const lockTimeout: Coercer<number> = (raw) => {
  const ms =
    typeof raw === 'number' ? raw : typeof raw === 'string' ? parseDurationMs(raw) : undefined;
  const rounded = ms === undefined || !Number.isFinite(ms) ? undefined : Math.round(ms);
  return rounded !== undefined && rounded >= 1 && rounded <= MAX_LOCK_TIMEOUT_MS
    ? ok(rounded)
    : fail('a duration above 0 and up to 10min, such as "3s", "500ms" or a number of milliseconds');
};

/** A duration of at least a second, such as "30min" or "2h" (a bare number is seconds). */
export const longDuration: Coercer<number> = (raw) => {
  const ms = typeof raw === 'number' ? raw * 1000 : typeof raw === 'string' ? parseDurationMs(/^\s*[\d.]+\s*$/.test(raw) ? `${raw}s` : raw) : undefined;
  return ms !== undefined && Number.isFinite(ms) && ms >= 1000 ? ok(Math.round(ms)) : fail('a duration of at least 1s, such as "30min" or "2h"');
};

/** A daily window of local time, "HH:MM-HH:MM" (it may span midnight), in minutes of the day. */
export interface TimeWindow {
  startMinute: number;
  endMinute: number;
  text: string;
}

export const timeWindow: Coercer<TimeWindow> = (raw) => {
  const m = typeof raw === 'string' ? /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(raw) : null;
  const minutes = (h: string, mm: string) => (Number(h) < 24 && Number(mm) < 60 ? Number(h) * 60 + Number(mm) : NaN);
  if (m) {
    const start = minutes(m[1]!, m[2]!);
    const end = minutes(m[3]!, m[4]!);
    if (Number.isFinite(start) && Number.isFinite(end) && start !== end) return ok({ startMinute: start, endMinute: end, text: (raw as string).trim() });
  }
  return fail('a daily window of local time "HH:MM-HH:MM", such as "02:00-04:30" (it may span midnight)');
};
