/**
 * Fault-injection pauses for the test suite, off unless RPCL_TEST_PAUSE is set:
 * `RPCL_TEST_PAUSE="replay:2000,swap:500"` sleeps that many milliseconds when a run enters
 * each named phase, so a test can change the table, block it or kill rpcl at a known point.
 */
import type { Phase } from '../report/events.js';
import { sleep } from '../db/session.js';

function pauses(): Map<string, number> {
  const spec = process.env.RPCL_TEST_PAUSE ?? '';
  const map = new Map<string, number>();
  for (const item of spec.split(',')) {
    const [phase, ms] = item.split(':');
    if (phase && ms && Number.isFinite(Number(ms))) map.set(phase.trim(), Number(ms));
  }
  return map;
}

export async function testPause(phase: Phase): Promise<void> {
  const ms = pauses().get(phase);
  if (ms !== undefined) await sleep(ms);
}
