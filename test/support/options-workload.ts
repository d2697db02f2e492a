/**
 * Writers for the table_options tests (issue 13), each change mirrored into a control table in
 * the same transaction (the dual-write oracle): after the repack the table must equal it.
 *
 * `append`: one session appends rows whose order value comes from a sequence (so it grows with
 * commit order, as an order date or an event id does), others delete random rows. Deleting
 * never disturbs a physical order and an append keeps it; updates would not (an updated row
 * is replayed at the end of the copy, as pg_repack's are), which is why the ordered tests use
 * this workload. `update`: sessions update and delete random rows.
 */
import type pg from 'pg';
import type { TestDatabase } from './db.js';

export interface WriterStats {
  commits: number;
  unexpected: string[];
}

export class OptionsWorkload {
  private running = false;
  private loops: Promise<void>[] = [];
  readonly stats: WriterStats = { commits: 0, unexpected: [] };

  private constructor(
    private readonly clients: pg.Client[],
    private readonly table: string,
    private readonly control: string,
    private readonly kind: 'append' | 'update',
    private readonly ids: number,
    private readonly sequence: string,
  ) {}

  /** `table` and `control` quoted; ids 1..ids exist at the start; `sequence` feeds appended rows. */
  static async start(db: TestDatabase, o: { table: string; control: string; kind: 'append' | 'update'; ids: number; sequence?: string }): Promise<OptionsWorkload> {
    const clients = await Promise.all([1, 2].map(() => db.client()));
    const w = new OptionsWorkload(clients, o.table, o.control, o.kind, o.ids, o.sequence ?? '');
    w.running = true;
    w.loops = clients.map((c, i) => w.loop(c, i));
    return w;
  }

  async stop(): Promise<WriterStats> {
    this.running = false;
    await Promise.all(this.loops);
    return this.stats;
  }

  private async loop(c: pg.Client, n: number): Promise<void> {
    for (let i = 0; this.running; i++) {
      const id = 1 + ((i * 7919 + n * 104729) % this.ids);
      try {
        await c.query('BEGIN');
        if (this.kind === 'append' && n === 0) {
          const r = await c.query(`INSERT INTO ${this.table} (id, "Placed At", note) SELECT v, v, 'appended' FROM nextval('${this.sequence}') v RETURNING *`);
          await c.query(`INSERT INTO ${this.control} SELECT ($1::${this.table}).*`, [rowLiteral(r.rows[0])]);
        } else if (this.kind === 'update' && i % 5 !== 3) {
          await c.query(`WITH u AS (UPDATE ${this.table} SET note = note || 'u' WHERE id = $1 RETURNING id, note)
                         UPDATE ${this.control} k SET note = u.note FROM u WHERE k.id = u.id`, [id]);
        } else {
          const d = await c.query(`DELETE FROM ${this.table} WHERE id = $1`, [id]);
          if (d.rowCount) await c.query(`DELETE FROM ${this.control} WHERE id = $1`, [id]);
        }
        await c.query('COMMIT');
        this.stats.commits++;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        // Two writers may deadlock on rows between themselves: the application's own, both tables roll back.
        if ((err as { code?: string }).code !== '40P01') this.stats.unexpected.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

/** The row as a record literal, for a `($1::table).*` copy into the control table. */
function rowLiteral(row: Record<string, unknown>): string {
  const fields = Object.values(row).map((v) => (v === null ? '' : `"${String(v).replace(/["\\]/g, (m) => `\\${m}`)}"`));
  return `(${fields.join(',')})`;
}

/** Both tables hold the same rows (every column, by id). */
export async function sameRows(sql: pg.Client, table: string, control: string): Promise<boolean> {
  const { rows } = await sql.query(
    `SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY id)) FROM ${table} t) IS NOT DISTINCT FROM
            (SELECT md5(string_agg(k::text, ',' ORDER BY id)) FROM ${control} k) AS same`,
  );
  return rows[0].same;
}
