/**
 * Bounded retries for statements that wait for a lock on an application table. Each attempt
 * runs under lock_timeout (set by the body), so the application's queries queue behind rpcl for
 * at most that long; between attempts rpcl backs off so that they drain.
 */
import { SqlState, isSqlState } from './sqlstate.js';
import { sleep } from './session.js';

export interface RetryOptions {
  attempts: number;
  /** First pause; doubles each time, capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  onRetry?: (attempt: number, err: unknown) => void | Promise<void>;
}

export function isLockFailure(err: unknown): boolean {
  return isSqlState(err, SqlState.lockNotAvailable) || isSqlState(err, SqlState.deadlockDetected);
}

export function backoffDelay(attempt: number, opts: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>): number {
  return Math.min(opts.baseDelayMs * 2 ** (attempt - 1), opts.maxDelayMs);
}

/** Runs `body` until it succeeds or fails for another reason than a lock; rethrows the last error. */
export async function retryOnLock<T>(opts: RetryOptions, body: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await body(attempt);
    } catch (err) {
      if (!isLockFailure(err) || attempt >= opts.attempts) throw err;
      await opts.onRetry?.(attempt, err);
      await sleep(backoffDelay(attempt, opts));
    }
  }
}
