import { describe, expect, it } from 'vitest';
import { pageRanges } from '../../src/execute/copy.js';

const END = 0xfffffffe;

describe('copy page ranges', () => {
  it('cover the heap without gaps or overlaps and end open', () => {
    expect(pageRanges(10, 4, 1000)).toEqual([[0, 3], [3, 6], [6, 9], [9, END]]);
    expect(pageRanges(100, 2, 30)).toEqual([[0, 30], [30, 60], [60, 90], [90, END]]);
  });

  it('an empty or tiny heap is one open range', () => {
    expect(pageRanges(0, 4, 1000)).toEqual([[0, END]]);
    expect(pageRanges(1, 4, 1000)).toEqual([[0, END]]);
  });
});
