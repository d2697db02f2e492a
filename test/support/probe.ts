/**
 * The latency probe: a session that reads and writes the table every few milliseconds. Its
 * worst single operation is what the repack cost the application.
 */
import type pg from 'pg';

export class Probe {
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  worstMs = 0;
  operations = 0;
  errors: string[] = [];

  constructor(
    private readonly client: pg.Client,
    private readonly read: string,
    private readonly write: string,
    private readonly everyMs = 5,
  ) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        for (const sql of [this.read, this.write]) {
          const t = performance.now();
          try {
            await this.client.query(sql);
          } catch (err) {
            this.errors.push((err as Error).message);
          }
          this.worstMs = Math.max(this.worstMs, performance.now() - t);
          this.operations++;
        }
        await new Promise((r) => setTimeout(r, this.everyMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
