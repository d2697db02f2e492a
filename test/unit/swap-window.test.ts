import { describe, expect, it } from 'vitest';
import { windowState } from '../../src/plan/swap-window.js';

const at = (h: number, m: number) => new Date(2026, 11, 1, h, m, 0, 0);
const w = (text: string, startMinute: number, endMinute: number) => ({ text, startMinute, endMinute });

describe('swap_window', () => {
  it('is open inside a window of the same day and says when it closes', () => {
    expect(windowState(at(2, 30), w('02:00-04:00', 120, 240))).toEqual({ open: true, msToChange: 90 * 60_000 });
    expect(windowState(at(2, 0), w('02:00-04:00', 120, 240)).open).toBe(true);
    expect(windowState(at(4, 0), w('02:00-04:00', 120, 240))).toEqual({ open: false, msToChange: 22 * 3_600_000 });
  });

  it('is closed before it and says when it opens', () => {
    expect(windowState(at(1, 15), w('02:00-04:00', 120, 240))).toEqual({ open: false, msToChange: 45 * 60_000 });
  });

  it('spans midnight when its end is before its start', () => {
    const night = w('23:30-01:00', 1410, 60);
    expect(windowState(at(23, 45), night)).toEqual({ open: true, msToChange: 75 * 60_000 });
    expect(windowState(at(0, 30), night)).toEqual({ open: true, msToChange: 30 * 60_000 });
    expect(windowState(at(12, 0), night)).toEqual({ open: false, msToChange: 11.5 * 3_600_000 });
  });
});
