/**
 * The sampler: every 100 ms while a tool runs, on a session of its own, how old the tool's
 * oldest open transaction is (what holds back vacuum and bloats every other table of a big
 * database), where the server's WAL is (what replicas, archiving and the disk must absorb),
 * and for rpcl the size of its log tables. A one-off reading before and after would miss
 * both: the long transaction is over and the burst of WAL is averaged away by then.
 */
import type pg from 'pg';
import type { Tool } from './tools.js';

export const SAMPLE_INTERVAL_MS = 100;

/** application_name of the sessions the bench opens to run a tool itself, so the sampler tells them from the writers. */
export const benchToolApp = (tool: 'vacuum_full' | 'sql_floor') => `bench ${tool}`;

/** The tool's sessions in pg_stat_activity; pg_repack names its sessions itself (fallback_application_name). */
const SESSIONS: Record<Tool, string> = {
  rpcl: `application_name LIKE 'rpcl%'`,
  pg_repack: `application_name = 'pg_repack'`,
  vacuum_full: `application_name = '${benchToolApp('vacuum_full')}'`,
  sql_floor: `application_name = '${benchToolApp('sql_floor')}'`,
};

const LOG_BYTES = `(SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = 'rpcl' AND c.relname LIKE 'log\\_%')`;

interface Sample {
  /** Server clock, seconds: the WAL rate is counted on the clock of the server that wrote it. */
  at: number;
  walBytes: number;
  xactAge: number;
  snapshotAge: number;
  logBytes: number;
}

export interface Sampled {
  samples: number;
  /** The oldest open transaction of the tool's sessions, seconds, worst over the samples. */
  worstXactAgeSeconds: number;
  /** The same, counting only transactions that hold a snapshot (backend_xmin set). */
  oldestSnapshotSeconds: number;
  peakWalBytesPerSecond: number;
  /** rpcl's log tables at their largest; undefined for the other tools. */
  peakLogBytes?: number;
}

function sql(tool: Tool): string {
  const age = (extra = '') => `coalesce(max(extract(epoch FROM now() - xact_start)) FILTER (WHERE ${SESSIONS[tool]}${extra}), 0)`;
  return `SELECT extract(epoch FROM clock_timestamp()) AS at,
                 pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS wal,
                 ${age()} AS xact,
                 ${age(' AND backend_xmin IS NOT NULL')} AS snap,
                 ${tool === 'rpcl' ? `coalesce(${LOG_BYTES}, 0)` : '0'} AS log
            FROM pg_stat_activity
           WHERE datname = current_database() AND xact_start IS NOT NULL`;
}

/**
 * Starts sampling the tool's sessions on `c` (a session on the tool's database) at once; the
 * returned function takes a last sample, so the figures cover the run to its end, and
 * summarizes. The samples are due on a fixed 100 ms schedule: a slow one is not followed by a
 * burst of catch-up samples.
 */
export function startSampler(c: pg.Client, tool: Tool): () => Promise<Sampled> {
  const query = sql(tool);
  const samples: Sample[] = [];
  const take = async () => {
    try {
      const r = (await c.query(query)).rows[0];
      samples.push({ at: Number(r.at), walBytes: Number(r.wal), xactAge: Number(r.xact), snapshotAge: Number(r.snap), logBytes: Number(r.log) });
    } catch {
      // A sample that fails (rpcl's log table dropped under pg_total_relation_size) is a gap, not a failed benchmark.
    }
  };
  let on = true;
  let wake = () => {};
  const loop = (async () => {
    let due = performance.now();
    for (;;) {
      await take();
      if (!on) break;
      due = Math.max(due + SAMPLE_INTERVAL_MS, performance.now());
      await new Promise<void>((res) => {
        const timer = setTimeout(res, due - performance.now());
        // Stopping cuts the wait short, so the last sample is taken as the tool ends.
        wake = () => {
          clearTimeout(timer);
          res();
        };
      });
      if (!on) break;
    }
  })();
  return async () => {
    on = false;
    wake();
    await loop;
    await take();
    const worst = (f: (s: Sample) => number) => samples.reduce((m, s) => Math.max(m, f(s)), 0);
    return {
      samples: samples.length,
      worstXactAgeSeconds: worst((s) => s.xactAge),
      oldestSnapshotSeconds: worst((s) => s.snapshotAge),
      peakWalBytesPerSecond: peakRate(samples.map((s) => ({ at: s.at, value: s.walBytes }))),
      peakLogBytes: tool === 'rpcl' ? worst((s) => s.logBytes) : undefined,
    };
  };
}

/**
 * The highest rate of a growing counter over sliding windows of `windowSeconds`: from each
 * sample to the first one at least a window later. A window that the samples end before
 * (the run's last second, or a run shorter than a window) is still divided by the full window,
 * since whatever it counted was written within that much time; so a short burst is not
 * inflated into a rate it never kept up for a second.
 */
export function peakRate(samples: { at: number; value: number }[], windowSeconds = 1): number {
  let peak = 0;
  let end = 0;
  for (let start = 0; start < samples.length; start++) {
    const from = samples[start]!;
    end = Math.max(end, start);
    while (end < samples.length - 1 && samples[end]!.at - from.at < windowSeconds) end++;
    const to = samples[end]!;
    peak = Math.max(peak, (to.value - from.value) / Math.max(to.at - from.at, windowSeconds));
  }
  return peak;
}
