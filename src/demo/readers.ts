/**
 * The benchmark's and the demo's reader: an application session that reads the seed table
 * through its view (`view_on_repack`) on a fixed schedule, as a web request would. A query
 * through a view locks the view, then the table, which is exactly the order in which a swap
 * that re-points the view can deadlock with it; every error it sees is an application error
 * caused by the tool under test, and its worst latency is what the repack cost a reader.
 */
import type pg from 'pg';
import { xorshift } from './random.js';

export class ViewReader {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  worstMs = 0;
  reads = 0;
  errors: string[] = [];

  /** rate: reads per second; latency counts from when each read was due. */
  constructor(private readonly client: pg.Client, private readonly maxId: number, private readonly rate: number) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    const rand = xorshift(7919);
    await onSchedule(this.rate, () => this.running, async (t) => {
      try {
        await this.client.query(`SELECT count(*) FROM view_on_repack WHERE id = $1`, [1 + Math.floor(rand() * this.maxId)]);
        this.reads++;
      } catch (err) {
        this.errors.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
      }
      this.worstMs = Math.max(this.worstMs, performance.now() - t);
    });
  }
}

/**
 * Calls `body` `rate` times a second while `running()` says so, as requests arrive: each call
 * gets the time it was due, from which its latency counts (a stall delays the calls due
 * meanwhile, and they count it). A rate of 0 calls back to back, each due when it starts.
 */
export async function onSchedule(rate: number, running: () => boolean, body: (dueAt: number) => Promise<void>): Promise<void> {
  const interval = rate > 0 ? 1000 / rate : 0;
  let due = performance.now();
  while (running()) {
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = interval > 0 ? due : performance.now();
    due += interval;
    await body(t);
  }
}
