/**
 * The partitions bench's data and application: `events`, partitioned by range of id, bloated
 * by half; writers that update, move (change the partition key), insert and delete random rows
 * and mirror each change into the plain table `events_control` in the same statement; and a
 * reader of a small range through the view `events_v`. Every statement's latency and every
 * error is recorded: any error is a finding.
 */
import type pg from 'pg';
import { xorshift } from '../demo/random.js';
import { ScheduledReader } from '../demo/readers.js';

/** A payload of about 100 bytes, different per row. */
const PAYLOAD = (n: string) => `md5(${n}::text) || md5((${n} + 1)::text) || repeat('x', 36)`;

/**
 * P partitions of R rows each (ids 1..P*R), a primary key and a partitioned index on customer,
 * half of the rows deleted (id % 2 = 0), the control copy and the view. VACUUM ANALYZE, as the
 * existing bench's seed does: the dead rows' space is free but the files keep their size, and
 * no autovacuum of the load runs into a measurement.
 */
export async function seedEvents(c: pg.Client, partitions: number, rowsPerPartition: number): Promise<void> {
  await c.query(`CREATE TABLE events (id bigint NOT NULL, created_at timestamptz NOT NULL, customer int NOT NULL, payload text NOT NULL)
                 PARTITION BY RANGE (id)`);
  for (let i = 0; i < partitions; i++) {
    await c.query(`CREATE TABLE events_p${i} PARTITION OF events FOR VALUES FROM (${i * rowsPerPartition + 1}) TO (${(i + 1) * rowsPerPartition + 1})`);
  }
  await c.query(`INSERT INTO events SELECT g, now() - g * interval '1 second', g % 10000, ${PAYLOAD('g')} FROM generate_series(1, $1::bigint) g`, [
    partitions * rowsPerPartition,
  ]);
  await c.query(`ALTER TABLE events ADD PRIMARY KEY (id)`);
  await c.query(`CREATE INDEX events_customer_idx ON events (customer)`);
  await c.query(`DELETE FROM events WHERE id % 2 = 0`);
  await c.query(`CREATE TABLE events_control (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, customer int NOT NULL, payload text NOT NULL)`);
  await c.query(`INSERT INTO events_control SELECT * FROM events`);
  await c.query(`CREATE VIEW events_v AS SELECT * FROM events`);
  await c.query(`VACUUM ANALYZE events, events_control`);
  await c.query(`CHECKPOINT`);
}

/** Heap, TOAST and indexes of every leaf partition, in bytes. */
export async function partitionedSize(c: pg.Client): Promise<number> {
  const r = await c.query(`SELECT coalesce(sum(pg_total_relation_size(relid)), 0) AS n FROM pg_partition_tree('events') WHERE isleaf`);
  return Number(r.rows[0].n);
}

/**
 * Whether events holds exactly the control's rows (count and an md5 over the rows' md5s in id
 * order: one string of all rows would pass 1 GB at 10M rows), and whether the tree still has
 * its partitions, each with both indexes attached.
 */
export async function checkIntact(c: pg.Client, partitions: number): Promise<{ dataEqual: boolean; problems: string[] }> {
  const sum = async (t: string) =>
    (await c.query(`SELECT count(*) AS n, md5(string_agg(md5(x::text), '' ORDER BY id)) AS m FROM (SELECT id, created_at, customer, payload FROM ${t}) x`))
      .rows[0];
  const [a, b] = [await sum('events'), await sum('events_control')];
  const problems: string[] = [];
  if (a.n !== b.n) problems.push(`events has ${a.n} rows, events_control ${b.n}`);
  for (const tree of ['events', 'events_pkey', 'events_customer_idx']) {
    const leaves = Number((await c.query(`SELECT count(*) AS n FROM pg_partition_tree($1) WHERE isleaf`, [tree])).rows[0].n);
    if (leaves !== partitions) problems.push(`${tree} has ${leaves} leaves, not ${partitions}`);
  }
  return { dataEqual: a.n === b.n && a.m === b.m, problems };
}

/** A measurement window: every latency, and when the worst one ended (to find it in a tool's log). */
export interface Window {
  latencies: number[];
  worstEndedAt?: Date;
}

/** Keeps the latencies of a measurement window and every error message (with its SQLSTATE). */
class Recorder {
  private window: Window & { worst: number } = { latencies: [], worst: -1 };
  errors: string[] = [];

  async time(run: () => Promise<unknown>, started = performance.now()): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.errors.push(`${(err as { code?: string }).code ?? '?'} ${(err as Error).message}`);
    }
    const took = performance.now() - started;
    this.window.latencies.push(took);
    if (took > this.window.worst) Object.assign(this.window, { worst: took, worstEndedAt: new Date() });
  }

  /** Starts a new window; returns the previous one. */
  reset(): Window {
    const { latencies, worstEndedAt } = this.window;
    this.window = { latencies: [], worst: -1 };
    return { latencies, worstEndedAt };
  }
}

/**
 * Writers, back to back: each statement is its own transaction and changes events and
 * events_control together. Rows are created (inserted, or moved to a new id) only with even
 * ids that belong to the writer ((id / 2) % writers = its number): the seed left every even id
 * free, so a writer's own NOT EXISTS check is never raced and no statement fails on a
 * duplicate key unless the tool under test made one.
 */
export class PartitionWriters {
  readonly rec = new Recorder();
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly clients: pg.Client[], private readonly maxId: number) {}

  start(): void {
    this.running = true;
    this.loops = this.clients.map((c, i) => this.loop(c, i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(c: pg.Client, me: number): Promise<void> {
    const rand = xorshift((me + 1) * 2654435761);
    const n = this.clients.length;
    const anyId = () => 1 + Math.floor(rand() * this.maxId);
    // An even id of this writer's own, in any partition.
    const ownId = () => 2 * ((1 + Math.floor(rand() * (Math.floor(this.maxId / (2 * n)) - 1))) * n + me);
    while (this.running) {
      const op = rand();
      if (op < 0.2) {
        await this.rec.time(() =>
          c.query(
            `WITH i AS (INSERT INTO events SELECT $1::bigint, now(), $2::int, ${PAYLOAD('$1::bigint')} WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = $1) RETURNING *)
             INSERT INTO events_control SELECT * FROM i`,
            [ownId(), Math.floor(rand() * 10000)],
          ),
        );
      } else if (op < 0.5) {
        await this.rec.time(() =>
          c.query(
            `WITH u AS (UPDATE events SET customer = $2::int, payload = md5($2::text) || substr(payload, 33) WHERE id = $1 RETURNING id, customer, payload)
             UPDATE events_control c SET customer = u.customer, payload = u.payload FROM u WHERE c.id = u.id`,
            [anyId(), Math.floor(rand() * 10000)],
          ),
        );
      } else if (op < 0.65) {
        // Changes the partition key: the row moves to the partition of its new id (mostly another one).
        await this.rec.time(() =>
          c.query(
            `WITH u AS (UPDATE events SET id = $2::bigint WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM events WHERE id = $2) RETURNING id)
             UPDATE events_control c SET id = u.id FROM u WHERE c.id = $1`,
            [anyId(), ownId()],
          ),
        );
      } else {
        await this.rec.time(() =>
          c.query(`WITH d AS (DELETE FROM events WHERE id = $1 RETURNING id) DELETE FROM events_control c USING d WHERE c.id = d.id`, [anyId()]),
        );
      }
    }
  }
}

/** One reader of 100 consecutive ids through the view, on a fixed schedule; latency counts from when each read was due. */
export class RangeReader extends ScheduledReader {
  readonly rec = new Recorder();

  constructor(private readonly client: pg.Client, private readonly maxId: number, perSecond: number) {
    super(perSecond);
  }

  protected async read(rand: () => number, dueAt: number): Promise<void> {
    const from = 1 + Math.floor(rand() * (this.maxId - 100));
    await this.rec.time(() => this.client.query(`SELECT count(*), sum(customer) FROM events_v WHERE id BETWEEN $1 AND $1 + 99`, [from]), dueAt);
  }
}
