import { describe, expect, it } from 'vitest';
import { ChunkSizer } from '../../src/execute/chunk-sizer.js';

describe('chunk sizer', () => {
  it('starts small and grows at most fourfold per chunk towards the target time', () => {
    const s = new ChunkSizer(500);
    expect(s.next()).toBe(500);
    s.record(500, 10);
    expect(s.next()).toBe(2000);
    s.record(2000, 1000);
    expect(s.next()).toBe(1000);
  });

  it('shrinks at most fourfold after a slow chunk and keeps within its limits', () => {
    const s = new ChunkSizer(500, { first: 1000, min: 100, max: 3000 });
    s.record(1000, 100_000);
    expect(s.next()).toBe(250);
    s.record(250, 100_000);
    expect(s.next()).toBe(100);
    for (let i = 0; i < 5; i++) s.record(100, 1);
    expect(s.next()).toBe(3000);
  });

  it('keeps a chunk within its WAL budget at the largest WAL per row seen lately', () => {
    const s = new ChunkSizer(500, { first: 1000, min: 10, max: 100_000 }, 1_000_000);
    s.record(1000, 10, 4_000_000);
    expect(s.next()).toBe(250);
    // 500 bytes a row now, but 4000 a moment ago: the next chunk still assumes 3600.
    s.record(250, 10, 125_000);
    expect(s.next()).toBe(278);
  });

  it('ignores an empty chunk', () => {
    const s = new ChunkSizer(500);
    s.record(0, 5000);
    expect(s.next()).toBe(500);
  });
});
