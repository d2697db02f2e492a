/** Log lines of run events: words instead of `?`, nouns in the right number. */
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/report/logger.js';
import { countNoun, formatRate, logEvent } from '../../src/report/log-events.js';

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const put = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  return { log: { info: put('info'), warning: put('warning'), error: put('error'), debug: put('debug') } as unknown as Logger, lines };
}

const ref = { connection: 'seed', table: 'public.orders', oid: 4242 };

describe('log events', () => {
  it('says a rate is not measured yet instead of `?`', () => {
    const { log, lines } = capture();
    logEvent(log, {
      type: 'replay-progress', ref, elapsedMs: 1200,
      estimate: { backlog: 2616, changeRate: null, replayRate: null, predictedSwapMs: null },
    });
    expect(lines).toEqual([
      'info replay: backlog 2616, change rate not measured yet, replay rate not measured yet, predicted swap not known yet, elapsed 1 s',
    ]);
    expect(lines[0]).not.toContain('?');
    expect(formatRate(41.6)).toBe('42 rows/s');
  });

  it('counts with the noun in the right number', () => {
    expect(countNoun(1, 'table')).toBe('1 table');
    expect(countNoun(0, 'table')).toBe('0 tables');
    expect(countNoun(2, 'table')).toBe('2 tables');
    expect(countNoun(3, 'index', 'indexes')).toBe('3 indexes');
  });
});
