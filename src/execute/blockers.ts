/**
 * Who blocks the swap. While the swap waits for its locks, the control session samples
 * pg_blocking_pids() of the work session, so a failed attempt can name the sessions in its way
 * and deadlock_resolution acts on exactly those, never on anyone else.
 */
import type pg from 'pg';
import type { DeadlockResolution } from '../config/types.js';

export interface Blocker {
  pid: number;
  user: string | null;
  application: string | null;
  state: string | null;
  queryStart: string | null;
  query: string | null;
}

export function describeBlocker(b: Blocker): string {
  return (
    `pid ${b.pid} (user ${b.user ?? '?'}, application "${b.application ?? ''}", state ${b.state ?? '?'}, ` +
    `query started ${b.queryStart ?? '?'}: ${(b.query ?? '').replace(/\s+/g, ' ').slice(0, 120)})`
  );
}

export interface BlockerMonitor {
  stop(): Promise<Blocker[]>;
  /** A session that blocked the work session while waiting for a lock the work session held. */
  cycle(): Blocker | null;
}

/**
 * With giveUpOnCycle, a blocker that is itself waiting for the work session is a deadlock in
 * the making: the work session's lock wait is cancelled at once (only while it still waits for
 * a lock), so the attempt fails within one interval instead of stalling everyone until its
 * lock_timeout, and the application session goes on.
 */
export function watchBlockers(control: pg.Client, workPid: number, intervalMs: number, giveUpOnCycle = false): BlockerMonitor {
  const seen = new Map<number, Blocker>();
  let cycle: Blocker | null = null;
  let running = true;
  let wake: () => void = () => undefined;
  const loop = (async () => {
    while (running) {
      try {
        const { rows } = await control.query(
          `SELECT a.pid, a.usename, a.application_name, a.state, a.query_start::text AS query_start, a.query,
                  $1::int = ANY(pg_blocking_pids(a.pid)) AS waits_for_us
           FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids($1::int))`,
          [workPid],
        );
        for (const r of rows) {
          const b = { pid: r.pid, user: r.usename, application: r.application_name, state: r.state, queryStart: r.query_start, query: r.query };
          seen.set(r.pid, b);
          if (r.waits_for_us && giveUpOnCycle && running && cycle === null) {
            cycle = b;
            await control.query(
              `SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1::int AND wait_event_type = 'Lock'`,
              [workPid],
            );
          }
        }
      } catch {
        // Monitoring is best effort: the swap's own lock_timeout bounds the wait regardless.
      }
      // stop() may have come while the query ran: it had no sleep to cut short then.
      if (!running) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      running = false;
      wake();
      await loop;
      return [...seen.values()];
    },
    cycle: () => cycle,
  };
}

/** Applies deadlock_resolution to the sessions that blocked a failed swap attempt. */
export async function resolveBlockers(
  control: pg.Client,
  blockers: Blocker[],
  how: DeadlockResolution,
): Promise<string[]> {
  if (how === 'nothing') return [];
  const fn = how === 'cancel_query' ? 'pg_cancel_backend' : 'pg_terminate_backend';
  const done: string[] = [];
  for (const b of blockers) {
    try {
      const { rows } = await control.query<{ ok: boolean }>(`SELECT ${fn}($1::int) AS ok`, [b.pid]);
      done.push(`${how === 'cancel_query' ? 'cancelled the query of' : 'terminated'} ${describeBlocker(b)}${rows[0]?.ok ? '' : ' (it had already gone)'}`);
    } catch (err) {
      done.push(`could not ${how === 'cancel_query' ? 'cancel' : 'terminate'} pid ${b.pid}: ${(err as Error).message}`);
    }
  }
  return done;
}

/**
 * The blockers that hold a granted lock on one of `relations` now and are not rpcl's own
 * sessions: the ones a resolution may act on when a wait was also for snapshots or long ago.
 */
export async function blockersHolding(control: pg.Client, blockers: Blocker[], relations: number[]): Promise<Blocker[]> {
  if (blockers.length === 0) return [];
  const { rows } = await control.query<{ pid: number }>(
    `SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.granted AND l.relation = ANY($1::oid[]) AND l.pid = ANY($2::int[]) AND a.application_name NOT LIKE 'rpcl%'`,
    [relations, blockers.map((b) => b.pid)],
  );
  const pids = new Set(rows.map((r) => r.pid));
  return blockers.filter((b) => pids.has(b.pid));
}
