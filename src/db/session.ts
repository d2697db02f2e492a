/** Small helpers for running statements with explicit lock and statement budgets. */
import type pg from 'pg';

export async function inTransaction<T>(client: pg.Client, body: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await body();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * `SET LOCAL` for the current transaction only, so a budget never outlives the statement
 * group it was meant for. Values go through set_config, never into the SQL text.
 */
export async function setLocalTimeouts(
  client: pg.Client,
  t: { lockTimeoutMs?: number; statementTimeoutMs?: number },
): Promise<void> {
  if (t.lockTimeoutMs !== undefined) {
    await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.round(t.lockTimeoutMs)}ms`]);
  }
  if (t.statementTimeoutMs !== undefined) {
    await client.query(`SELECT set_config('statement_timeout', $1, true)`, [
      `${Math.round(t.statementTimeoutMs)}ms`,
    ]);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Makes a session run its queries one after another even when callers overlap (progress
 * updates, the blocker monitor and replay bookkeeping all share the control session).
 */
export function serializeQueries(client: pg.Client): pg.Client {
  let tail: Promise<unknown> = Promise.resolve();
  const original = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) => {
    const next = tail.then(() => original(...args));
    tail = next.catch(() => undefined);
    return next;
  };
  return client;
}
