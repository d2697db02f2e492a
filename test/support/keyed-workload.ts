/**
 * The dual-write oracle for any keyed table: each writer transaction makes one change through
 * fixture-specific SQL that returns the touched keys, then mirrors the table's state for those
 * keys into the control table inside the same transaction (in SQL, so no value round-trips
 * through JavaScript).
 */
import type pg from 'pg';
import { xorshift } from '../../src/demo/random.js';
import { describeError, isApplicationsOwn } from './workload.js';

export interface KeyedFixture {
  table: string;
  control: string;
  keys: string[];
  /** Each returns the keys it wrote (RETURNING <keys>). $1 is a random integer. */
  insert: string;
  upsert: string;
  /** $1..$n are the key values of an existing row; $n+1 a random integer. */
  update: string;
  remove: string;
  /** Changes the key; returns the new keys. */
  changeKey: string;
}


export class KeyedWorkload {
  private running = false;
  private loops: Promise<void>[] = [];
  commits = 0;
  unexpected: string[] = [];

  constructor(
    private readonly f: KeyedFixture,
    private readonly clients: pg.Client[],
    private readonly seed: number,
  ) {}

  start(): void {
    this.running = true;
    this.loops = this.clients.map((c, i) => this.loop(c, this.seed * 7919 + i * 104729 + 1));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private keyMatch(offset = 0): string {
    return this.f.keys.map((k, i) => `${k} = $${i + 1 + offset}`).join(' AND ');
  }

  private async mirror(c: pg.Client, keys: unknown[]): Promise<void> {
    await c.query(`DELETE FROM ${this.f.control} WHERE ${this.keyMatch()}`, keys);
    await c.query(`INSERT INTO ${this.f.control} SELECT * FROM ${this.f.table} WHERE ${this.keyMatch()}`, keys);
  }

  private async loop(c: pg.Client, seed: number): Promise<void> {
    const rand = xorshift(seed);
    const int = () => Math.floor(rand() * 1_000_000);
    while (this.running) {
      try {
        await c.query('BEGIN');
        const op = rand();
        if (op < 0.2) {
          for (const r of (await c.query(this.f.insert, [int()])).rows) await this.mirror(c, this.f.keys.map((_, i) => Object.values(r)[i]));
        } else if (op < 0.3) {
          for (const r of (await c.query(this.f.upsert, [int()])).rows) await this.mirror(c, this.f.keys.map((_, i) => Object.values(r)[i]));
        } else {
          const pick = await c.query({
            text: `SELECT ${this.f.keys.join(', ')} FROM ${this.f.control} OFFSET $1 LIMIT 1`,
            values: [Math.floor(rand() * 2000)],
            rowMode: 'array',
          });
          const key = pick.rows[0] as unknown[] | undefined;
          if (key !== undefined) {
            if (op < 0.65) {
              await c.query(this.f.update, [...key, int()]);
              await this.mirror(c, key);
            } else if (op < 0.8) {
              await c.query(this.f.remove, key);
              await c.query(`DELETE FROM ${this.f.control} WHERE ${this.keyMatch()}`, key);
            } else {
              const moved = await c.query({ text: this.f.changeKey, values: key, rowMode: 'array' });
              await c.query(`DELETE FROM ${this.f.control} WHERE ${this.keyMatch()}`, key);
              for (const r of moved.rows) await this.mirror(c, r as unknown[]);
            }
          }
        }
        await c.query('COMMIT');
        this.commits++;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        if (!isApplicationsOwn(err)) this.unexpected.push(describeError(err));
      }
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

export async function tableChecksum(sql: pg.Client, table: string, keys: string[]): Promise<{ rows: number; md5: string }> {
  const { rows } = await sql.query(
    `SELECT count(*)::int AS n, coalesce(md5(string_agg(t::text, '|' ORDER BY ${keys.map((k) => `t.${k}`).join(', ')})), '') AS md5
     FROM ${table} t`,
  );
  return { rows: rows[0].n, md5: rows[0].md5 };
}

export const keyFixtures: KeyedFixture[] = [
  {
    table: '"Sales Schema"."Order Lines"',
    control: '"Sales Schema"."Order Lines control"',
    keys: ['order_id', '"Line No"'],
    insert: `INSERT INTO "Sales Schema"."Order Lines" VALUES ($1 % 5000, 100 + $1 % 900, $1 % 40, 'new') RETURNING order_id, "Line No"`,
    upsert: `INSERT INTO "Sales Schema"."Order Lines" VALUES ($1 % 800, $1 % 10, 1, 'up') ON CONFLICT (order_id, "Line No") DO UPDATE SET qty = EXCLUDED.qty + 1 RETURNING order_id, "Line No"`,
    update: `UPDATE "Sales Schema"."Order Lines" SET qty = $3 % 60, note = 'u' || $3 WHERE order_id = $1 AND "Line No" = $2`,
    remove: `DELETE FROM "Sales Schema"."Order Lines" WHERE order_id = $1 AND "Line No" = $2`,
    changeKey: `UPDATE "Sales Schema"."Order Lines" SET "Line No" = "Line No" + 1000 + (random() * 100000)::int WHERE order_id = $1 AND "Line No" = $2 RETURNING order_id, "Line No"`,
  },
  {
    table: 'public.uuid_items',
    control: 'public.uuid_items_control',
    keys: ['id'],
    insert: `INSERT INTO public.uuid_items ("select", n, tags) VALUES ('i' || $1::int, $1::int % 100, ARRAY['x']) RETURNING id`,
    upsert: `INSERT INTO public.uuid_items (id, "select", n) VALUES (md5(($1 % 500)::text)::uuid, 'up', 1) ON CONFLICT (id) DO UPDATE SET n = uuid_items.n + 1 RETURNING id`,
    update: `UPDATE public.uuid_items SET n = $2::int % 100, tags = tags || ($2::text) WHERE id = $1`,
    remove: `DELETE FROM public.uuid_items WHERE id = $1`,
    changeKey: `UPDATE public.uuid_items SET id = gen_random_uuid() WHERE id = $1 RETURNING id`,
  },
  {
    table: 'public.docs',
    control: 'public.docs_control',
    keys: ['id'],
    insert: `INSERT INTO public.docs (body, meta) SELECT string_agg(md5(i::text || $1::text), ''), jsonb_build_object('n', $1) FROM generate_series(1, 100) i RETURNING id`,
    upsert: `INSERT INTO public.docs (body) VALUES (repeat(md5($1::text), 3)) RETURNING id`,
    update: `UPDATE public.docs SET body = (SELECT string_agg(md5(i::text || $2::text), '') FROM generate_series(1, 90) i), meta = meta || jsonb_build_object('u', $2) WHERE id = $1`,
    remove: `DELETE FROM public.docs WHERE id = $1`,
    changeKey: `UPDATE public.docs SET id = DEFAULT WHERE id = $1 RETURNING id`,
  },
];
