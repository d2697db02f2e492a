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

/**
 * The probe on the seed table: it reads and writes row 1, mirroring the write into the control
 * table so the dual-write oracle still holds; no other test session touches that row.
 */
export function seedProbe(client: pg.Client): Probe {
  return new Probe(
    client,
    `SELECT name FROM table_for_repack WHERE id = 1`,
    `WITH u AS (UPDATE table_for_repack SET value = (value + 1) % 1000 WHERE id = 1 RETURNING id, value)
     UPDATE control_for_repack c SET value = u.value FROM u WHERE c.id = u.id`,
  );
}
