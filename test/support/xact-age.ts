/**
 * Samples, every 100 ms, the age of the oldest open transaction of the sessions whose
 * application_name matches a pattern: the figure that says how long vacuum was held back.
 */
import type pg from 'pg';

export class TransactionAgeSampler {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  worst = 0;
  samples = 0;

  constructor(
    private readonly client: pg.Client,
    private readonly applicationPattern: string,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const { rows } = await this.client.query<{ age: number }>(
          `SELECT coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0)::float8 AS age
           FROM pg_stat_activity WHERE application_name LIKE $1 AND datname = current_database() AND xact_start IS NOT NULL`,
          [this.applicationPattern],
        ).catch(() => ({ rows: [{ age: Number.NaN }] }));
        // A failed sample is recorded as such: NaN makes the worst age NaN and the test fail.
        this.worst = Math.max(this.worst, rows[0]!.age);
        if (Number.isNaN(this.worst)) break;
        this.samples++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }

  /** Stops sampling, closes the session and returns the worst age seen, in seconds. */
  async stop(): Promise<number> {
    this.running = false;
    await this.loop;
    await this.client.end();
    return this.worst;
  }
}
