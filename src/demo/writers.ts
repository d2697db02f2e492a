/**
 * The benchmark's application: writer sessions on the seed table, each transaction mirrored
 * into a control table (so "data equal" can be checked), every transaction's latency recorded.
 *
 * With a rate, each writer issues its transactions on a fixed schedule, as an application
 * serving steady traffic does, and a transaction's latency counts from the moment it was due:
 * when a lock holds one writer up, every transaction that queued behind it counts the wait
 * too (no "coordinated omission"). Rate 0: every writer as fast as it can go.
 */
import pg from 'pg';
import { xorshift } from './random.js';

/**
 * An application at a steady load: on the 2-core reference machine, 2 writers at this rate
 * use about a fifth of what back-to-back writers reach.
 */
export const DEFAULT_WRITER_RATE = 250;

export interface LatencyStats {
  count: number;
  p50: number;
  p99: number;
  worst: number;
  perSecond: number;
}

export function summarize(latencies: number[], seconds: number): LatencyStats {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), worst: sorted[sorted.length - 1] ?? 0, perSecond: sorted.length / seconds };
}

export class BenchWriters {
  private running = false;
  private loops: Promise<void>[] = [];
  private window: { start: number; latencies: number[] } = { start: 0, latencies: [] };
  errors: string[] = [];

  /** rate: transactions per second per writer; 0 = back to back. */
  constructor(private readonly clients: pg.Client[], private readonly maxId: number, private readonly rate = 0) {}

  start(): void {
    this.running = true;
    this.loops = this.clients.map((c, i) => this.loop(c, i + 1));
  }

  /** Starts a new measurement window; returns the previous one's stats. */
  mark(): LatencyStats {
    const now = performance.now();
    const stats = summarize(this.window.latencies, Math.max(0.001, (now - this.window.start) / 1000));
    this.window = { start: now, latencies: [] };
    return stats;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(c: pg.Client, seed: number): Promise<void> {
    const rand = xorshift(seed * 2654435761);
    const interval = this.rate > 0 ? 1000 / this.rate : 0;
    // Writers start spread over one interval, not in lockstep.
    let due = performance.now() + interval * rand();
    while (this.running) {
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = interval > 0 ? due : performance.now();
      due += interval;
      const id = 1 + Math.floor(rand() * this.maxId);
      const op = rand();
      try {
        await c.query('BEGIN');
        if (op < 0.3) {
          await c.query(
            `WITH i AS (INSERT INTO table_for_repack (name, value, excluded) VALUES ('b' || nextval('excluded_seq'), $1, nextval('excluded_seq')) RETURNING *)
             INSERT INTO control_for_repack SELECT id, name, value, excluded, created_at FROM i`,
            [Math.floor(rand() * 1000)],
          );
        } else if (op < 0.85) {
          await c.query(
            `WITH u AS (UPDATE table_for_repack SET value = $2 WHERE id = $1 RETURNING id, value)
             UPDATE control_for_repack c SET value = u.value FROM u WHERE c.id = u.id`,
            [id, Math.floor(rand() * 1000)],
          );
        } else {
          await c.query(
            `WITH d AS (DELETE FROM table_for_repack WHERE id = $1 RETURNING id) DELETE FROM control_for_repack c USING d WHERE c.id = d.id`,
            [id],
          );
        }
        await c.query('COMMIT');
        const took = performance.now() - t;
        this.window.latencies.push(took);
        if (process.env.RPCL_BENCH_TRACE && took > 40) console.error(`${new Date().toISOString()} slow writer op ${took.toFixed(0)} ms (op ${op.toFixed(2)})`);
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        const code = (err as { code?: string }).code;
        if (code !== '40P01' && code !== '23505') this.errors.push((err as Error).message);
      }
    }
  }
}
