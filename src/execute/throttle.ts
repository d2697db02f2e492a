/**
 * Slows the copy and the replay down between two units of work (a chunk, a replay batch), never
 * inside one: rpcl then holds no transaction and no lock while it waits. Capture runs inside the
 * application's own transactions and cannot be throttled; the log keeps growing meanwhile.
 *
 * Limits, checked in this order:
 * - a pause requested through the state table (`rpcl pause_repack`), until resumed;
 * - max_replica_lag: the largest replay_lag in pg_stat_replication;
 * - max_wal_rate: the server's WAL, from pg_current_wal_lsn(), whoever wrote it (the
 *   application's writes count too: the replicas and the archive see the sum), through a token
 *   bucket (walDebt);
 * - sleep_ratio: a pause of that fraction of the last unit's work time.
 * While a limit holds the run back, the state row says which (`status` shows it) and the log
 * says so once when it starts and once when it ends.
 */
import type pg from 'pg';
import { sleep } from '../db/session.js';
import type { ConnectionConfig } from '../config/types.js';
import { quoteIdent } from '../db/ident.js';
import type { TableRun } from './context.js';
import { StopRequestedError } from './context.js';

/**
 * WAL the run may write at once after a quiet spell, in seconds at the limit's rate; a chunked
 * copy's chunk is kept to as much (chunk-sizer.ts), so any window of T seconds sees at most
 * about (T + 1) seconds' worth of the limit.
 */
export const WAL_BURST_SECONDS = 0.5;
/** Limits are read at most this often while none holds the run back. */
const CHECK_MS = 100;
/** Longest single sleep: a stop or a resume is noticed within this. */
const POLL_MS = 250;

export class Throttle {
  private lastWorkMs = 0;
  private bucket: { at: number; lsn: number; tokens: number } | null = null;
  private holding: string | null = null;
  private checkedAt = 0;

  private constructor(
    private readonly run: TableRun,
    private readonly limits: { sleepRatio: number; walBytesPerSecond: number | null; replicaLagSeconds: number | null },
  ) {}

  /** throttleRefusal has checked, before the run, that every limit set can be measured. */
  static create(run: TableRun): Throttle {
    const { conn } = run;
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

  /** Waits until every limit allows the next unit of work; returns how long it waited (ms). */
  async between(): Promise<number> {
    const started = Date.now();
    await this.waitForLimits();
    return Date.now() - started;
  }

  private async waitForLimits(): Promise<void> {
    const ratio = this.limits.sleepRatio;
    if (ratio > 0 && this.lastWorkMs > 0) await this.sleepPolling(this.lastWorkMs * ratio);
    this.lastWorkMs = 0;
    // The replay loop comes here every few milliseconds: a pause request is read at most every
    // CHECK_MS while nothing holds the run back. A WAL or lag limit is read before every unit
    // of work: fast chunks between two reads would be a burst the limit never saw.
    const measured = this.limits.walBytesPerSecond !== null || this.limits.replicaLagSeconds !== null;
    if (!measured && this.holding === null && Date.now() - this.checkedAt < CHECK_MS) return;
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
      const { waitMs, rate } = await this.walDebt(control, this.limits.walBytesPerSecond);
      if (waitMs > 0) {
        return `max_wal_rate: the server writes ${(rate / 1048576).toFixed(1)} MB/s of WAL (limit ${(this.limits.walBytesPerSecond / 1048576).toFixed(1)} MB/s)`;
      }
    }
    return null;
  }

  /**
   * A token bucket over the server's WAL position: it fills at the limit's rate up to
   * WAL_BURST_SECONDS of it, and every byte written since the last reading (by anyone) is
   * taken out. Returns how long to wait until the bucket is no longer in debt, and the rate
   * seen since the last reading. Idle time earns no more than the burst: a sliding average
   * would let a quiet spell be followed by a burst of several seconds' worth.
   */
  private async walDebt(control: pg.Client, limit: number): Promise<{ waitMs: number; rate: number }> {
    const lsn = await walPosition(control);
    const now = Date.now();
    const full = limit * WAL_BURST_SECONDS;
    const last = this.bucket ?? { at: now, lsn, tokens: full };
    const rate = now > last.at ? ((lsn - last.lsn) * 1000) / (now - last.at) : 0;
    const tokens = Math.min(full, last.tokens + (limit * (now - last.at)) / 1000) - (lsn - last.lsn);
    this.bucket = { at: now, lsn, tokens };
    return { waitMs: tokens < 0 ? (-tokens / limit) * 1000 : 0, rate };
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

/** The server's WAL position in bytes (everyone's writes). */
export async function walPosition(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ lsn: string }>(`SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8 AS lsn`);
  return Number(rows[0]!.lsn);
}

/** The largest replay lag of any replica connected to this server, in seconds (0: none). */
export async function replicaLagSeconds(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ lag: number | null }>(
    `SELECT max(extract(epoch FROM greatest(replay_lag, write_lag, flush_lag)))::float8 AS lag FROM pg_stat_replication`,
  );
  return rows[0]?.lag ?? 0;
}

/**
 * Why a limit set in the connection cannot be measured by this role, or null. A role without
 * pg_read_all_stats (pg_monitor) sees the replicas in pg_stat_replication but not their state
 * or lag: the limit could never hold, so the table is refused before any work.
 */
export async function throttleRefusal(client: pg.Client, conn: ConnectionConfig): Promise<string | null> {
  if (conn.maxReplicaLagSeconds === null) return null;
  const { rows } = await client.query<{ replicas: string; visible: string; me: string }>(
    `SELECT count(*)::int8 AS replicas, count(state)::int8 AS visible, current_user AS me FROM pg_stat_replication`,
  );
  const r = rows[0]!;
  if (Number(r.replicas) <= Number(r.visible)) return null;
  return (
    `max_replica_lag is set, but role ${r.me} cannot read the replicas' lag in pg_stat_replication. ` +
    `Grant it: GRANT pg_monitor TO ${quoteIdent(r.me)} (on RDS and Cloud SQL the admin role may grant pg_monitor), or remove max_replica_lag`
  );
}
