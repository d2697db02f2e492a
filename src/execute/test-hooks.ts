/**
 * Fault-injection pauses for the test suite, off unless RPCL_TEST_PAUSE is set:
 * `RPCL_TEST_PAUSE="replay:2000,swap:500"` sleeps that many milliseconds when a run reaches
 * each named point (a phase; `copy-snapshot`: inside the copy's transaction, after its
 * snapshot is taken; `replay-batch`: at the end of every replay batch, a slow replay; `copy-chunk`: before each
 * chunk of a chunked copy commits), so a test can write, change the table, block it or kill rpcl there.
 */
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

/** Ends early when `stop` says so: a stop request must not wait for a test's pause. */
export async function testPause(point: string, stop: () => boolean = () => false): Promise<void> {
  const ms = pauses().get(point);
  if (ms === undefined) return;
  const until = Date.now() + ms;
  while (Date.now() < until && !stop()) await sleep(Math.min(50, until - Date.now()));
}
