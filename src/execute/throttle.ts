/**
 * Slows the copy and the replay down between two units of work (a chunk, a replay batch), never
 * inside one: rpcl then holds no transaction and no lock while it waits. Capture runs inside the
 * application's own transactions and cannot be throttled; the log keeps growing meanwhile.
 *
 * Limits, checked in this order:
 * - a pause requested through the state table (`rpcl pause_repack`), until resumed;
 * - max_replica_lag: the largest replay_lag in pg_stat_replication;
 * - max_wal_rate: the server's WAL rate over the last WINDOW_MS, from pg_current_wal_lsn(),
 *   whoever wrote it (the application's writes count too: the replicas and the archive see the
 *   sum);
 * - sleep_ratio: a pause of that fraction of the last unit's work time.
 * While a limit holds the run back, the state row says which (`status` shows it) and the log
 * says so once when it starts and once when it ends.
 */
import type pg from 'pg';
import { sleep } from '../db/session.js';
import { RpclError, ExitCode } from '../errors.js';
import type { TableRun } from './context.js';
import { StopRequestedError } from './context.js';

/** WAL rate is averaged over this window: long enough to smooth one chunk's burst. */
export const WAL_WINDOW_MS = 5000;
/** Limits are read at most this often while none holds the run back. */
const CHECK_MS = 100;
/** Longest single sleep: a stop or a resume is noticed within this. */
const POLL_MS = 250;

interface WalSample {
  at: number;
  lsn: number;
}

export class Throttle {
  private lastWorkMs = 0;
  private samples: WalSample[] = [];
  private holding: string | null = null;
  private checkedAt = 0;

  private constructor(
    private readonly run: TableRun,
    private readonly limits: { sleepRatio: number; walBytesPerSecond: number | null; replicaLagSeconds: number | null },
  ) {}

  /** Checks upfront that every limit set can be measured by this role. */
  static async create(run: TableRun): Promise<Throttle> {
    const { conn, control } = run;
    if (conn.maxReplicaLagSeconds !== null) await assertReplicaLagReadable(control);
    return new Throttle(run, {
      sleepRatio: conn.sleepRatio,
      walBytesPerSecond: conn.maxWalRateMBps === null ? null : conn.maxWalRateMBps * 1024 * 1024,
      replicaLagSeconds: conn.maxReplicaLagSeconds,
    });
  }

  /** The unit of work just done took `ms`. */
  worked(ms: number): void {
    this.lastWorkMs = ms;
  }

  /** Waits until every limit allows the next unit of work. */
  async between(): Promise<void> {
    const ratio = this.limits.sleepRatio;
    if (ratio > 0 && this.lastWorkMs > 0) await this.sleepPolling(this.lastWorkMs * ratio);
    this.lastWorkMs = 0;
    // The replay loop comes here every few milliseconds: the limits are read at most every
    // CHECK_MS while none holds the run back (a limit that holds is re-read every POLL_MS).
    if (this.holding === null && Date.now() - this.checkedAt < CHECK_MS) return;
    this.checkedAt = Date.now();
    for (let reason = await this.limitReached(); reason !== null; reason = await this.limitReached()) {
      await this.holdFor(reason);
      await this.sleepPolling(POLL_MS);
    }
    // sleep_ratio is a pace, not an event: the state row says so while no other limit holds.
    if (ratio > 0) await this.holdFor(`sleep_ratio: pausing ${ratio} s per second of work`);
    else await this.release();
  }

  private async limitReached(): Promise<string | null> {
    const { control, runId } = this.run;
    if (this.run.stopRequested()) throw new StopRequestedError();
    const paused = await control.query<{ paused: boolean }>(`SELECT pause_requested AS paused FROM rpcl.runs WHERE run_id = $1`, [runId]);
    if (paused.rows[0]?.paused) return 'paused on request (rpcl resume_repack continues)';
    if (this.limits.replicaLagSeconds !== null) {
      const lag = await replicaLagSeconds(control);
      if (lag > this.limits.replicaLagSeconds) {
        return `max_replica_lag: a replica is ${lag.toFixed(1)} s behind (limit ${this.limits.replicaLagSeconds} s)`;
      }
    }
    if (this.limits.walBytesPerSecond !== null) {
      const rate = await this.walRate(control);
      if (rate !== null && rate > this.limits.walBytesPerSecond) {
        return `max_wal_rate: the server writes ${(rate / 1048576).toFixed(1)} MB/s of WAL (limit ${(this.limits.walBytesPerSecond / 1048576).toFixed(1)} MB/s)`;
      }
    }
    return null;
  }

  /**
   * WAL bytes per second over the window ending now, or null until the window has a start.
   * The oldest sample kept is the last one at least WAL_WINDOW_MS old.
   */
  private async walRate(control: pg.Client): Promise<number | null> {
    const { rows } = await control.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8 AS lsn`);
    const now = Date.now();
    this.samples.push({ at: now, lsn: Number(rows[0]!.lsn) });
    while (this.samples.length > 2 && now - this.samples[1]!.at >= WAL_WINDOW_MS) this.samples.shift();
    const first = this.samples[0]!;
    // Right after a long pause the window is stale: start it again, with no verdict yet.
    if (this.samples.length === 1) return null;
    return ((this.samples[this.samples.length - 1]!.lsn - first.lsn) * 1000) / Math.max(WAL_WINDOW_MS, now - first.at);
  }

  private async holdFor(reason: string): Promise<void> {
    const kind = reason.split(':')[0]!;
    if (this.holding === kind) return;
    this.holding = kind;
    this.run.emit({ type: 'throttle', ref: this.run.ref, reason });
    await this.run.control.query(`UPDATE rpcl.runs SET throttle = $2 WHERE run_id = $1`, [this.run.runId, reason]);
  }

  private async release(): Promise<void> {
    if (this.holding === null) return;
    this.holding = null;
    this.run.emit({ type: 'throttle', ref: this.run.ref, reason: null });
    await this.run.control.query(`UPDATE rpcl.runs SET throttle = NULL WHERE run_id = $1`, [this.run.runId]);
  }

  private async sleepPolling(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (this.run.stopRequested()) throw new StopRequestedError();
      await sleep(Math.min(POLL_MS, until - Date.now()));
    }
  }
}

/** The largest replay lag of any replica connected to this server, in seconds (0: none). */
export async function replicaLagSeconds(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ lag: number | null }>(
    `SELECT max(extract(epoch FROM greatest(replay_lag, write_lag, flush_lag)))::float8 AS lag FROM pg_stat_replication`,
  );
  return rows[0]?.lag ?? 0;
}

/**
 * A role without pg_read_all_stats (pg_monitor) sees the replicas in pg_stat_replication but
 * not their state or lag: the limit could never hold, so the run is refused before any work.
 */
async function assertReplicaLagReadable(client: pg.Client): Promise<void> {
  const { rows } = await client.query<{ replicas: string; visible: string; me: string }>(
    `SELECT count(*)::int8 AS replicas, count(state)::int8 AS visible, current_user AS me FROM pg_stat_replication`,
  );
  const r = rows[0]!;
  if (Number(r.replicas) > Number(r.visible)) {
    throw new RpclError(
      `max_replica_lag is set, but role ${r.me} cannot read the replicas' lag in pg_stat_replication. ` +
        `Grant it: GRANT pg_monitor TO ${r.me} (on RDS and Cloud SQL the admin role may grant pg_monitor), or remove max_replica_lag`,
      ExitCode.refused,
    );
  }
}
