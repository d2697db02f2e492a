/**
 * The plain-SQL floor: the statements that any rebuild of the seed table into a new table must
 * run when it may use plain SQL only, timed bare on the same server: the copy (two sessions
 * over halves of the heap, as rpcl copies), each EXCLUDE constraint added by ALTER TABLE (the
 * only way to give a table one, and it re-checks every row while it locks the table), the
 * other indexes built two at a time, largest first, and ANALYZE beside the DROP of the old
 * table: every rebuild must free the old storage (VACUUM FULL unlinks it at commit, pg_repack and
 * rpcl drop the old table), and at 10M rows that is most of a second of unlinking. With writers
 * running the DROP cannot be part of the timed statements (they use the table): main.ts then
 * times it once they have stopped and adds it. No capture trigger, log, replay, swap, client
 * start-up or clean-up of work objects: an online tool can only add to this figure.
 * pg_repack is not bound by it, since it swaps data files (superuser) and never re-checks.
 */
import type pg from 'pg';

export const FLOOR_TABLE = 'floor_copy';

interface Build {
  sql: string;
  bytes: number;
}

async function indexBuilds(c: pg.Client): Promise<{ exclusions: string[]; others: Build[] }> {
  const r = await c.query<{ def: string; excl: string | null; bytes: string }>(
    `SELECT pg_get_indexdef(i.indexrelid) AS def, pg_relation_size(i.indexrelid) AS bytes,
            (SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype = 'x') AS excl
       FROM pg_index i WHERE i.indrelid = 'table_for_repack'::regclass`,
  );
  const exclusions = r.rows.filter((x) => x.excl !== null).map((x) => `ALTER TABLE ${FLOOR_TABLE} ADD ${x.excl}`);
  const others = r.rows
    .filter((x) => x.excl === null)
    .map((x) => {
      const m = /^CREATE (UNIQUE )?INDEX \S+ ON \S+ (.*)$/.exec(x.def);
      if (!m) throw new Error(`unexpected index definition: ${x.def}`);
      return { sql: `CREATE ${m[1] ?? ''}INDEX ON ${FLOOR_TABLE} ${m[2]}`, bytes: Number(x.bytes) };
    })
    .sort((a, b) => b.bytes - a.bytes);
  return { exclusions, others };
}

/** Runs the floor's statements on two sessions of the benchmark database. */
export async function runFloor(a: pg.Client, b: pg.Client, dropOld: boolean): Promise<void> {
  const { exclusions, others } = await indexBuilds(a);
  await a.query(`CREATE TABLE ${FLOOR_TABLE} (LIKE table_for_repack INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`);
  const pages = Number((await a.query(`SELECT pg_relation_size('table_for_repack') / current_setting('block_size')::int AS n`)).rows[0].n);
  const half = Math.ceil(pages / 2);
  await Promise.all([
    a.query(`INSERT INTO ${FLOOR_TABLE} SELECT * FROM table_for_repack WHERE ctid < $1::tid`, [`(${half},0)`]),
    b.query(`INSERT INTO ${FLOOR_TABLE} SELECT * FROM table_for_repack WHERE ctid >= $1::tid`, [`(${half},0)`]),
  ]);
  for (const sql of exclusions) await a.query(sql);
  const queue = [...others];
  const worker = async (c: pg.Client) => {
    await c.query(`SET max_parallel_maintenance_workers = 0`);
    for (let next = queue.shift(); next; next = queue.shift()) await c.query(next.sql);
  };
  await Promise.all([worker(a), worker(b)]);
  await Promise.all([a.query(`ANALYZE ${FLOOR_TABLE}`), dropOld ? dropOldTable(b) : undefined]);
}

/** The old table, with its view and the foreign key that points to it. */
export async function dropOldTable(c: pg.Client): Promise<void> {
  await c.query(`DROP TABLE table_for_repack CASCADE`);
}
