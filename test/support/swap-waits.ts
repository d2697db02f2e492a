/**
 * Design notes section 3: "Never wait for a lock while holding the table's." A sampler that,
 * every few milliseconds, looks for a session that holds ACCESS EXCLUSIVE on the table and waits
 * for another lock at the same time, and says what it waited for and who was in its way. A
 * wait that short may slip between two samples; the ones that hurt (a deadlock resolved after
 * deadlock_timeout, a lock_timeout) last hundreds of milliseconds and are always seen.
 */
import type pg from 'pg';

export interface SwapWait {
  /** The session that held the table's ACCESS EXCLUSIVE lock (rpcl's swap). */
  holder: string;
  /** What it waited for: a relation's name (or OID), or a lock type. */
  waitsFor: string;
  mode: string;
  /** application_name of the sessions in its way. */
  blockers: string[];
  samples: number;
  /** First to last sample, ms (at least the wait's length minus one interval). */
  seenForMs: number;
}

export class SwapWaitWatch {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private readonly waits = new Map<string, SwapWait & { first: number; last: number }>();
  errors: string[] = [];

  constructor(
    private readonly client: pg.Client,
    private readonly table = 'public.table_for_repack',
    private readonly everyMs = 10,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          const { rows } = await this.client.query(
            // One read of pg_locks: two would be two snapshots of the lock table.
            `WITH l AS MATERIALIZED (SELECT * FROM pg_locks)
             SELECT w.virtualtransaction AS vxid, coalesce(nullif(a.application_name, ''), w.pid::text) AS holder,
               coalesce(w.relation::regclass::text, w.locktype) AS waits_for, w.locktype, w.mode,
               coalesce((SELECT array_agg(DISTINCT coalesce(nullif(b.application_name, ''), b.pid::text))
                         FROM pg_stat_activity b WHERE b.pid = ANY(pg_blocking_pids(w.pid))), '{}') AS blockers
             FROM l h
             JOIN l w ON w.pid = h.pid AND NOT w.granted
             LEFT JOIN pg_stat_activity a ON a.pid = w.pid
             WHERE h.locktype = 'relation' AND h.granted AND h.mode = 'AccessExclusiveLock'
               AND h.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND h.relation = to_regclass($1)`,
            [this.table],
          );
          const now = performance.now();
          for (const r of rows) {
            const key = `${r.vxid} ${r.locktype} ${r.waits_for} ${r.mode}`;
            const seen = this.waits.get(key);
            if (seen === undefined) {
              this.waits.set(key, {
                holder: r.holder, waitsFor: r.locktype === 'relation' ? r.waits_for : `${r.locktype} ${r.waits_for}`, mode: r.mode, blockers: r.blockers, samples: 1, seenForMs: 0, first: now, last: now,
              });
            } else {
              seen.samples++;
              seen.last = now;
              seen.seenForMs = Math.round(now - seen.first);
              for (const b of r.blockers as string[]) if (!seen.blockers.includes(b)) seen.blockers.push(b);
            }
          }
        } catch (err) {
          this.errors.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, this.everyMs));
      }
    })();
  }

  async stop(): Promise<SwapWait[]> {
    this.running = false;
    await this.loop;
    return [...this.waits.values()].map(({ first: _f, last: _l, ...w }) => w);
  }
}
