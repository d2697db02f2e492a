/**
 * The benchmark's and the demo's reader: an application session that reads the seed table
 * through its view (`view_on_repack`) on a fixed schedule, as a web request would. A query
 * through a view locks the view, then the table, which is exactly the order in which a swap
 * that re-points the view can deadlock with it; every error it sees is an application error
 * caused by the tool under test, and its worst latency is what the repack cost a reader.
 */
import type pg from 'pg';
import { xorshift } from './random.js';

/**
 * A reader that reads `rate` times a second between start() and stop(), as requests arrive:
 * each read gets the time it was due, from which its latency counts (a stall delays the reads
 * due meanwhile, and they count it). A rate of 0 reads back to back, each due when it starts.
 */
export abstract class ScheduledReader {
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly rate: number) {}

  /** One read; `dueAt` is performance.now() time. */
  protected abstract read(rand: () => number, dueAt: number): Promise<void>;

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
    const interval = this.rate > 0 ? 1000 / this.rate : 0;
    let due = performance.now();
    while (this.running) {
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const t = interval > 0 ? due : performance.now();
      due += interval;
      await this.read(rand, t);
    }
  }
}

export class ViewReader extends ScheduledReader {
  worstMs = 0;
  reads = 0;
  errors: string[] = [];

  /** rate: reads per second. */
  constructor(private readonly client: pg.Client, private readonly maxId: number, rate: number) {
    super(rate);
  }

  protected async read(rand: () => number, dueAt: number): Promise<void> {
    try {
      await this.client.query(`SELECT count(*) FROM view_on_repack WHERE id = $1`, [1 + Math.floor(rand() * this.maxId)]);
      this.reads++;
    } catch (err) {
      this.errors.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`);
    }
    this.worstMs = Math.max(this.worstMs, performance.now() - dueAt);
  }
}
