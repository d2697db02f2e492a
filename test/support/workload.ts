/**
 * The dual-write oracle (design notes, invariant 1): writer sessions that insert, update,
 * delete, change keys, upsert and hand unique values over between rows, each transaction
 * mirroring its exact effect into a control table. After a repack the table must equal the
 * control table row for row. Errors that roll a transaction back as a whole (deadlocks, unique
 * conflicts between writers) are expected and keep both tables equal; any other error is
 * collected and fails the test.
 */
import pg from 'pg';
import { xorshift } from '../../src/demo/random.js';

export interface WorkloadTarget {
  table: string;
  control: string;
  /** Column lists in the same order in both tables; first is the key. */
  columns: string[];
}

export interface WorkloadStats {
  commits: number;
  expectedRollbacks: number;
  unexpected: string[];
  /** Expected rollbacks by SQLSTATE (a deadlock here may still be the repack's: see app-sessions.ts). */
  expectedByCode: Record<string, number>;
  /** The writers' worst single statement, ms: the stall the repack cost them. */
  worstMs: number;
}

const EXPECTED = new Set(['40P01', '40001', '23505', '23P01']);

/**
 * Whether a writer's error is the application's own doing (writers deadlock among themselves
 * on rows, "ShareLock on transaction", or collide on unique values), not the repack's: a
 * deadlock over a relation lock involves DDL, which in these tests only rpcl runs.
 */
export function isApplicationsOwn(err: unknown, expected: ReadonlySet<string> = EXPECTED): boolean {
  const code = (err as { code?: string }).code ?? '';
  const detail = (err as { detail?: string }).detail ?? '';
  return expected.has(code) && !(code === '40P01' && / on relation /.test(detail));
}

/** The error as a line for a test's failure message. */
export function describeError(err: unknown): string {
  return `${(err as { code?: string }).code ?? ''} ${(err as Error).message} ${(err as { detail?: string }).detail ?? ''}`.trim();
}

export class SeedWorkload {
  private running = false;
  private loops: Promise<void>[] = [];
  readonly stats: WorkloadStats = { commits: 0, expectedRollbacks: 0, unexpected: [], expectedByCode: {}, worstMs: 0 };

  constructor(
    private readonly clients: pg.Client[],
    private readonly seed: number,
    private readonly pauseMs = 2,
  ) {}

  start(): void {
    this.running = true;
    this.loops = this.clients.map((c, i) => this.loop(c, this.seed * 1000 + i));
  }

  async stop(): Promise<WorkloadStats> {
    this.running = false;
    await Promise.all(this.loops);
    return this.stats;
  }

  /** The same client, with every statement timed into stats.worstMs. */
  private timed(client: pg.Client): pg.Client {
    const query = async (...args: unknown[]) => {
      const t = performance.now();
      try {
        return await (client.query.bind(client) as (...a: unknown[]) => Promise<unknown>)(...args);
      } finally {
        this.stats.worstMs = Math.max(this.stats.worstMs, performance.now() - t);
      }
    };
    return { query } as unknown as pg.Client;
  }

  private async loop(raw: pg.Client, seed: number): Promise<void> {
    const rand = xorshift(seed);
    const client = this.timed(raw);
    while (this.running) {
      try {
        await client.query('BEGIN');
        await this.operation(client, rand);
        await client.query('COMMIT');
        this.stats.commits++;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        const code = (err as { code?: string }).code ?? '';
        if (isApplicationsOwn(err)) {
          this.stats.expectedRollbacks++;
          this.stats.expectedByCode[code] = (this.stats.expectedByCode[code] ?? 0) + 1;
        } else this.stats.unexpected.push(describeError(err));
      }
      if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }

  private async randomId(client: pg.Client, rand: () => number): Promise<number | undefined> {
    const { rows } = await client.query(
      `SELECT id FROM control_for_repack WHERE id >= $1 ORDER BY id LIMIT 1`,
      [Math.floor(rand() * 60000)],
    );
    return rows[0]?.id;
  }

  /**
   * Copies the row as this transaction just wrote it (it holds the row lock, so the state read
   * back is its own), inside the database: values never round-trip through JavaScript types.
   */
  private async mirror(client: pg.Client, row: Record<string, unknown>): Promise<void> {
    await client.query(
      `INSERT INTO control_for_repack (id, name, value, excluded, created_at)
       SELECT id, name, value, excluded, created_at FROM table_for_repack WHERE id = $1
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, value = EXCLUDED.value, excluded = EXCLUDED.excluded,
         created_at = EXCLUDED.created_at`,
      [row.id],
    );
  }

  private async operation(client: pg.Client, rand: () => number): Promise<void> {
    const op = rand();
    const returning = 'RETURNING id, name, value, excluded, created_at';
    if (op < 0.25) {
      const r = await client.query(
        `INSERT INTO table_for_repack (name, value, excluded) VALUES ('w' || nextval('excluded_seq'), $1, nextval('excluded_seq')) ${returning}`,
        [Math.floor(rand() * 1000)],
      );
      await this.mirror(client, r.rows[0]);
    } else if (op < 0.5) {
      const id = await this.randomId(client, rand);
      const r = await client.query(`UPDATE table_for_repack SET value = $2 WHERE id = $1 ${returning}`, [id, Math.floor(rand() * 1000)]);
      for (const row of r.rows) await this.mirror(client, row);
    } else if (op < 0.62) {
      const id = await this.randomId(client, rand);
      const r = await client.query(`DELETE FROM table_for_repack WHERE id = $1 RETURNING id`, [id]);
      for (const row of r.rows) await client.query(`DELETE FROM control_for_repack WHERE id = $1`, [row.id]);
    } else if (op < 0.72) {
      // Key change: the old key must disappear from the copy and the new one appear.
      const id = await this.randomId(client, rand);
      const r = await client.query(
        `UPDATE table_for_repack SET id = nextval('key_change_seq') % 60000 + 60000 * (1 + (random() * 100)::int) WHERE id = $1 ${returning}`,
        [id],
      );
      for (const row of r.rows) {
        await client.query(`DELETE FROM control_for_repack WHERE id = $1`, [id]);
        await this.mirror(client, row);
      }
    } else if (op < 0.82) {
      // INSERT ... ON CONFLICT on the UNIQUE name.
      const name = `u${Math.floor(rand() * 2000)}`;
      const r = await client.query(
        `INSERT INTO table_for_repack (name, value, excluded) VALUES ($1, $2, nextval('excluded_seq'))
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value ${returning}`,
        [name, Math.floor(rand() * 1000)],
      );
      await this.mirror(client, r.rows[0]);
    } else {
      // Hand a unique (and an exclusion-constrained) value over from one row to another in one
      // transaction: replay must never put the copy in a state with both rows holding it.
      const a = await this.randomId(client, rand);
      const b = await this.randomId(client, rand);
      if (a === undefined || b === undefined || a === b) return;
      const freed = await client.query(
        `UPDATE table_for_repack t SET excluded = nextval('excluded_seq'), name = 'h' || nextval('excluded_seq')
         FROM (SELECT id, excluded, name FROM table_for_repack WHERE id = $1 FOR UPDATE) old
         WHERE t.id = old.id RETURNING t.id, t.name, t.value, t.excluded, t.created_at, old.excluded AS old_excluded, old.name AS old_name`,
        [a],
      );
      const f = freed.rows[0];
      if (f === undefined) return;
      await this.mirror(client, f);
      const took = await client.query(
        `UPDATE table_for_repack SET excluded = $2, name = $3 WHERE id = $1 ${returning}`,
        [b, f.old_excluded, f.old_name],
      );
      for (const row of took.rows) await this.mirror(client, row);
    }
  }
}

export async function checksum(client: pg.Client, table: string): Promise<{ rows: number; md5: string }> {
  const { rows } = await client.query(
    `SELECT count(*)::int AS n, coalesce(md5(string_agg(t::text, '|' ORDER BY id)), '') AS md5
     FROM (SELECT id, name, value, excluded, created_at FROM ${table}) t`,
  );
  return { rows: rows[0].n, md5: rows[0].md5 };
}
