/**
 * swap_window: the daily window of local time (of the host running rpcl) in which the swap may
 * be attempted. A window whose end is before its start spans midnight.
 */
import type { TimeWindow } from '../config/duration.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface WindowState {
  open: boolean;
  /** While open: until it closes; while closed: until it opens. */
  msToChange: number;
}

export function windowState(now: Date, w: TimeWindow): WindowState {
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const at = now.getTime() - midnight;
  const start = w.startMinute * 60_000;
  const end = w.endMinute * 60_000;
  const open = start < end ? at >= start && at < end : at >= start || at < end;
  const next = open ? end : start;
  // The next time of day `next` comes round, today or tomorrow.
  const msToChange = next > at ? next - at : next + DAY_MS - at;
  return { open, msToChange };
}
