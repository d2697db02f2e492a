/**
 * Oracles for partitioned tables, which catalogSnapshot does not see: the partition tree
 * (parents, bounds, keys), partition indexes attached to the parent's partitioned indexes,
 * constraints and triggers cloned from the parent; the leaves of a tree with their storage;
 * and reader sessions that keep querying while a run goes on, collecting every error.
 */
import type pg from 'pg';
import { xorshift } from '../../src/demo/random.js';
import { describeError } from './workload.js';

const USER_NAMESPACES = `SELECT oid FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'rpcl')
  AND nspname !~ '^pg_(toast|temp)'`;

/**
 * The partition structure as text, without OIDs, sorted: which relation is a partition of which
 * with what bound (and whether a detach is pending, PostgreSQL 14+), the partition keys, which
 * index is attached to which partitioned index, which constraint and which trigger is a clone of
 * which parent's (with the trigger's definition, enabled state and internal flag).
 */
export async function partitionTree(sql: pg.Client): Promise<string[]> {
  await sql.query(`SET search_path = pg_catalog`);
  try {
    const { rows } = await sql.query<{ line: string }>(`
      WITH ns AS (${USER_NAMESPACES})
      SELECT 'partition ' || c.oid::regclass::text || ' kind ' || c.relkind::text || ' of ' || i.inhparent::regclass::text
        || ' bound ' || coalesce(pg_get_expr(c.relpartbound, c.oid), '-') || ' ispartition ' || c.relispartition
        || ' detach pending ' || coalesce(to_jsonb(i) ->> 'inhdetachpending', '-') AS line
      FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
      WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r', 'p')
      UNION ALL
      SELECT 'partitioned ' || c.oid::regclass::text || ' by ' || pg_get_partkeydef(c.oid)
        || ' ispartition ' || c.relispartition
      FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind = 'p'
      UNION ALL
      SELECT 'index ' || c.oid::regclass::text || ' on ' || x.indrelid::regclass::text || ' attached to ' || i.inhparent::regclass::text
      FROM pg_class c JOIN pg_index x ON x.indexrelid = c.oid JOIN pg_inherits i ON i.inhrelid = c.oid
      WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('i', 'I')
      UNION ALL
      SELECT 'constraint ' || con.conrelid::regclass::text || ' ' || con.conname || ' ' || con.contype::text
        || ' clone of ' || p.conrelid::regclass::text || ' ' || p.conname
        || ' index ' || coalesce(nullif(con.conindid, 0)::regclass::text, '-')
      FROM pg_constraint con JOIN pg_constraint p ON p.oid = con.conparentid
      WHERE con.connamespace IN (SELECT oid FROM ns)
      UNION ALL
      SELECT 'trigger ' || tg.tgrelid::regclass::text || ' ' || tg.tgname || ' enabled ' || tg.tgenabled::text
        || ' internal ' || tg.tgisinternal
        || ' clone of ' || coalesce((SELECT p.tgrelid::regclass::text || ' ' || p.tgname FROM pg_trigger p WHERE p.oid = tg.tgparentid), '-')
        || ' ' || pg_get_triggerdef(tg.oid)
      FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
      WHERE c.relnamespace IN (SELECT oid FROM ns) AND tg.tgconstraint = 0
      ORDER BY 1`);
    return rows.map((r) => r.line);
  } finally {
    await sql.query(`RESET search_path`);
  }
}

export interface LeafStorage {
  /** Qualified name, as regclass prints it with the default search_path. */
  name: string;
  oid: number;
  relfilenode: number;
  /** Its parent and bound, e.g. `"Part Schema"."Events" FOR VALUES FROM (...) TO (...)`. */
  attachment: string;
  bytes: number;
}

/** Every leaf under `root` (the root itself when it is a leaf), by name. */
export async function leavesOf(sql: pg.Client, root: string): Promise<LeafStorage[]> {
  const { rows } = await sql.query(
    `SELECT c.oid::regclass::text AS name, c.oid::int8 AS oid, c.relfilenode::int8 AS relfilenode,
            coalesce(i.inhparent::regclass::text || ' ' || pg_get_expr(c.relpartbound, c.oid), '-') AS attachment,
            pg_relation_size(c.oid)::int8 AS bytes
     FROM pg_partition_tree($1::regclass) t JOIN pg_class c ON c.oid = t.relid
     LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
     WHERE t.isleaf ORDER BY 1`,
    [root],
  );
  return rows.map((r) => ({ name: r.name, oid: Number(r.oid), relfilenode: Number(r.relfilenode), attachment: r.attachment, bytes: Number(r.bytes) }));
}

/** Every relation of the user's schemas with its OID and relfilenode: "nothing was rewritten". */
export async function storageOfAll(sql: pg.Client): Promise<string[]> {
  const { rows } = await sql.query<{ line: string }>(
    `SELECT c.oid::regclass::text || ' ' || c.oid || ' ' || c.relfilenode AS line FROM pg_class c
     WHERE c.relnamespace IN (${USER_NAMESPACES}) ORDER BY 1`,
  );
  return rows.map((r) => r.line);
}

export type ReadQuery = (text: string, values?: unknown[], name?: string) => Promise<pg.QueryResult>;
/** One unit of a reader's work; it may open and commit a transaction itself. */
export type ReadUnit = (q: ReadQuery, rand: () => number) => Promise<void>;

/**
 * Reader sessions: client i repeats units[i % units.length] until stopped. Every error is
 * collected (a reader causes no error of its own), with the statement that failed.
 */
export class ReadLoops {
  private running = false;
  private loops: Promise<void>[] = [];
  readonly errors: string[] = [];
  units = 0;
  worstMs = 0;

  constructor(
    private readonly clients: pg.Client[],
    private readonly work: ReadUnit[],
    private readonly seed = 1,
    private readonly pauseMs = 2,
  ) {}

  start(): void {
    this.running = true;
    this.loops = this.clients.map((c, i) => this.loop(c, this.work[i % this.work.length]!, xorshift(this.seed * 7919 + i * 104729 + 3)));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(c: pg.Client, unit: ReadUnit, rand: () => number): Promise<void> {
    while (this.running) {
      let current = '';
      const q: ReadQuery = async (text, values, name) => {
        current = text;
        const t = performance.now();
        try {
          return await c.query(name === undefined ? { text, values } : { name, text, values });
        } finally {
          this.worstMs = Math.max(this.worstMs, performance.now() - t);
        }
      };
      try {
        await unit(q, rand);
        this.units++;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        this.errors.push(`${describeError(err)} (${current.replace(/\s+/g, ' ').slice(0, 160)})`);
      }
      if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }
}
