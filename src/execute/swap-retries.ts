/**
 * The swap, tried until it gets its locks: swap_attempts attempts with backoff, and then, with
 * swap_deadline, more attempts until that long after the first; with swap_window, only inside
 * that daily window, the copy kept in sync by replay while the window is closed. A swap that
 * never got its locks ends in SwapBlockedError: the caller keeps the copy prepared, because the
 * copy and its indexes are the expensive part and a later repack_tables can swap it as it is.
 */
import { backoffDelay } from '../db/retry.js';
import { sleep } from '../db/session.js';
import { lockOrderFor } from '../plan/swap-locks.js';
import { windowState } from '../plan/swap-window.js';
import { describeBlocker, resolveBlockers, type Blocker } from './blockers.js';
import { SwapBlockedError, type TableRun } from './context.js';
import { catchUp, type CatchUp } from './replay.js';
import { attemptSwap } from './swap.js';
import { testPause } from './test-hooks.js';

/** Tries within one attempt that gave up at once: the next one follows after a short pause. */
const QUICK_TRIES = 4;

export async function swapWithRetries(run: TableRun, state: CatchUp) {
  const { emit, ref, conn } = run;
  const attempts = run.opts.swapAttempts;
  const deadline = conn.swapDeadlineMs === null ? null : Date.now() + conn.swapDeadlineMs;
  const window = conn.swapWindow;
  // The budget: swap_attempts, or with swap_deadline or swap_window as many as fit in them.
  const of =
    deadline !== null ? `${attempts}+ (until swap_deadline)` : window !== null ? `${attempts}+ (while swap_window ${window.text} is open)` : `${attempts}`;
  let lastBlockers: Blocker[] = [];
  let lastMessage = '';
  let tries = 0;
  for (let attempt = 1; ; attempt++) {
    const closed = await awaitWindow(run, state, deadline, attempt > 1);
    if (closed !== null) {
      throw new SwapBlockedError(`${closed}${lastMessage ? `; the last attempt: ${lastMessage}` : ''}`);
    }
    await catchUp(run, state);
    emit({ type: 'phase', ref, phase: 'swap', detail: `attempt ${attempt} of ${of}` });
    await testPause('swap');
    let result = await attemptSwap(run, lockOrderFor(++tries));
    // A try that gave up at once stalled nobody: try the other lock order right away, a few
    // times, before the attempt counts as failed and backs off.
    for (let quick = 1; !result.ok && result.quick && quick < QUICK_TRIES; quick++) {
      emit({ type: 'warning', ref, message: `swap attempt ${attempt}/${of}, try ${quick}: ${result.message}; trying again at once` });
      await sleep(20 * quick);
      await catchUp(run, state);
      result = await attemptSwap(run, lockOrderFor(++tries));
    }
    if (result.ok) {
      emit({ type: 'swap-attempt', ref, attempt, of: attempts, ok: true, holdMs: result.holdMs });
      return result;
    }
    lastBlockers = result.blockers.length > 0 ? result.blockers : lastBlockers;
    const who = result.blockers.length > 0 ? ` blocked by ${result.blockers.map(describeBlocker).join('; ')}` : '';
    lastMessage = `${result.message}${who}`;
    emit({ type: 'swap-attempt', ref, attempt, of: attempts, ok: false, message: lastMessage });
    const delay = backoffDelay(attempt, { baseDelayMs: 500, maxDelayMs: 10_000 });
    const more = deadline !== null ? Date.now() + delay < deadline : window !== null;
    if (attempt >= attempts && !more) break;
    for (const line of await resolveBlockers(run.control, result.blockers, conn.deadlockResolution)) {
      emit({ type: 'warning', ref, message: `deadlock_resolution ${conn.deadlockResolution}: ${line}` });
    }
    await sleep(delay);
    emit({ type: 'phase', ref, phase: 'replay', detail: 'replaying before the next swap attempt' });
  }
  const who = lastBlockers.length > 0 ? `: blocked by ${lastBlockers.map(describeBlocker).join('; ')}` : '';
  const budget = deadline === null ? `in ${attempts} attempts` : `in ${attempts} or more attempts until swap_deadline`;
  // (With swap_window alone the loop ends in awaitWindow, when the window closes.)
  throw new SwapBlockedError(
    `the swap lock was not granted within lock_timeout (${conn.lockTimeoutMs} ms) ${budget}${who}. ` +
      'End those sessions or set deadlock_resolution',
  );
}

/**
 * Waits, replaying every check_time, until swap_window is open. Returns null when it is, or
 * why the swap cannot be tried any more: the window closed after this run's attempts in it, or
 * it would open only after swap_deadline.
 */
async function awaitWindow(run: TableRun, state: CatchUp, deadline: number | null, triedBefore: boolean): Promise<string | null> {
  const w = run.conn.swapWindow;
  if (w === null) return deadline !== null && Date.now() >= deadline ? 'swap_deadline has passed' : null;
  let announced = false;
  for (;;) {
    const s = windowState(new Date(), w);
    if (s.open && (deadline === null || Date.now() < deadline)) return null;
    if (!s.open && triedBefore) return `swap_window ${w.text} closed`;
    if (deadline !== null && Date.now() + (s.open ? 0 : s.msToChange) >= deadline) {
      return `swap_window ${w.text} ${s.open ? 'was open' : `opens in ${Math.ceil(s.msToChange / 60_000)} min`}, after swap_deadline`;
    }
    if (!announced) {
      run.emit({ type: 'phase', ref: run.ref, phase: 'replay', detail: `waiting for swap_window ${w.text} (opens in ${Math.ceil(s.msToChange / 60_000)} min); the copy is kept in sync meanwhile` });
      announced = true;
    }
    await catchUp(run, state);
    await sleep(Math.min(s.msToChange, run.conn.checkTimeSeconds * 1000));
  }
}
