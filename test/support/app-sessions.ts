/**
 * The application around the seed table (design notes section 6, issue 11 "Application
 * sessions in the workload"): sessions that read through the view and join the child table,
 * write the child table whose foreign key points at the table, delete parents so the delete
 * cascades, run a 5-second report on demand, and hold a writer transaction open across the
 * copy snapshot. Each session has its own client, times every statement (its worst one is the
 * stall the repack cost it) and records every error with its SQLSTATE and statement.
 *
 * Errors the application causes itself (unique or exclusion conflicts, a foreign-key violation
 * because the parent was deleted concurrently, serialization failures) are counted as
 * expected. Everything else (deadlock detected, relation does not exist, could not open
 * relation with OID, cached plan must not change result type, lock not available, canceled,
 * ...) is an application error: these sessions are built so that they cannot deadlock or
 * time out among themselves or with SeedWorkload (every transaction here holds at most one
 * contended row lock, or takes its row locks in the same order as SeedWorkload), so any such
 * error was caused by the repack.
 *
 * Every change to table_for_repack is mirrored into control_for_repack in the same
 * transaction, as SeedWorkload does, so the dual-write oracle stays valid. Rows with ids below
 * SAFE_MIN_ID (the probe's row 1) are left alone.
 */
import type pg from 'pg';
import { xorshift } from '../../src/demo/random.js';

/** SQLSTATEs the application causes itself, whatever rpcl does. */
export const APPLICATION_CAUSED = new Set([
  '23505', // unique_violation between writers
  '23P01', // exclusion_violation between writers
  '23503', // foreign_key_violation: the parent row was deleted (or re-keyed) concurrently
  '40001', // serialization_failure
]);

const SAFE_MIN_ID = 2;
/** SeedWorkload picks ids below this bound; the app's parents are picked there too. */
const PICK_RANGE = 60000;

export type SessionRole = 'reader' | 'writer' | 'report' | 'long-writer';

export interface AppError {
  session: string;
  code: string;
  message: string;
  statement: string;
}

export interface SessionStats {
  name: string;
  role: SessionRole;
  /** Statements run (BEGIN and COMMIT included). */
  statements: number;
  /** Transactions (or autocommit statements) that completed without error. */
  commits: number;
  /** Worst single statement, ms. */
  worstMs: number;
  worstStatement: string;
}

export interface AppSessionsOptions {
  seed?: number;
  viewReaders?: number;
  joinReaders?: number;
  childWriters?: number;
  parentDeleters?: number;
  /** Pause between operations of each reader, ms. */
  pauseMs?: number;
  /** Pause between operations of each child writer, ms. */
  writerPauseMs?: number;
  /** Pause between parent deletes, ms (each delete removes a row for good). */
  deletePauseMs?: number;
}

type Connect = (applicationName: string) => Promise<pg.Client>;
type Query = (text: string, values?: unknown[], name?: string) => Promise<pg.QueryResult>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, ' ').trim();
}

class Session {
  readonly stats: SessionStats;

  constructor(
    readonly client: pg.Client,
    name: string,
    role: SessionRole,
    private readonly errors: AppError[],
    private readonly expected: Map<string, number>,
  ) {
    this.stats = { name, role, statements: 0, commits: 0, worstMs: 0, worstStatement: '' };
  }

  /** Runs one statement, timing it. A named statement is prepared once per session (as ORMs do). */
  async q(text: string, values?: unknown[], name?: string): Promise<pg.QueryResult> {
    const t = performance.now();
    try {
      return await this.client.query(name === undefined ? { text, values } : { name, text, values });
    } finally {
      const ms = performance.now() - t;
      this.stats.statements++;
      if (ms > this.stats.worstMs) {
        this.stats.worstMs = ms;
        this.stats.worstStatement = oneLine(text).slice(0, 160);
      }
    }
  }

  record(err: unknown, statement: string): void {
    const code = (err as { code?: string }).code ?? '';
    if (APPLICATION_CAUSED.has(code)) this.expected.set(code, (this.expected.get(code) ?? 0) + 1);
    else {
      // The server's detail (a deadlock's cycle, a lock's holder) says who was involved.
      const detail = (err as { detail?: string }).detail;
      const message = `${(err as Error).message}${detail ? ` (${oneLine(detail)})` : ''}`;
      this.errors.push({ session: this.stats.name, code, message, statement: oneLine(statement).slice(0, 200) });
    }
  }

  /**
   * One unit of work: an autocommit statement or a whole transaction. The statement that failed
   * is recorded with the error; a transaction is rolled back.
   */
  async unit(inTransaction: boolean, body: (s: { q: Query }) => Promise<void>): Promise<void> {
    let current = inTransaction ? 'BEGIN' : '';
    const tracked: Query = (text, values, name) => {
      current = text;
      return this.q(text, values, name);
    };
    try {
      if (inTransaction) await this.q('BEGIN');
      await body({ q: tracked });
      if (inTransaction) {
        current = 'COMMIT';
        await this.q('COMMIT');
      }
      this.stats.commits++;
    } catch (err) {
      if (inTransaction) await this.client.query('ROLLBACK').catch(() => undefined);
      this.record(err, current);
    }
  }
}

export interface AppSessionsResult {
  /** Errors caused by the repack: must be empty. */
  applicationErrors: AppError[];
  /** SQLSTATE -> count of errors the application causes itself. */
  expected: Record<string, number>;
  sessions: SessionStats[];
  /** Worst statement over the interactive writers (child writers, parent deleters), ms. */
  writersWorstMs: number;
  /** Worst statement over the interactive readers, ms. */
  readersWorstMs: number;
  report: { started: boolean; durationMs: number | null; error: AppError | null };
  longWriter: { opened: boolean; committed: boolean; id: number | null };
}

export class AppSessions {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly errors: AppError[] = [];
  private readonly expected = new Map<string, number>();
  private readonly sessions: Session[] = [];
  private report?: Session;
  private reportRun?: Promise<void>;
  private reportResult: AppSessionsResult['report'] = { started: false, durationMs: null, error: null };
  private longWriter?: Session;
  private longWriterState: AppSessionsResult['longWriter'] = { opened: false, committed: false, id: null };
  private childIdBound = 1;
  private readonly opts: Required<AppSessionsOptions>;

  private constructor(opts: AppSessionsOptions) {
    this.opts = {
      seed: 1, viewReaders: 2, joinReaders: 1, childWriters: 2, parentDeleters: 1, pauseMs: 2, writerPauseMs: 10, deletePauseMs: 20, ...opts,
    };
  }

  /**
   * Gives the child table rows to read, update, delete and cascade: loadSeed's own child rows
   * go with the even parents it deletes, so table_with_fk starts empty.
   */
  static async prepareChildRows(sql: pg.Client): Promise<void> {
    await sql.query(
      `INSERT INTO table_with_fk (tfr_id, note)
       SELECT id, 'seed child ' || id FROM table_for_repack WHERE id % 10 = 3 AND id >= $1 AND id < $2`,
      [SAFE_MIN_ID, PICK_RANGE],
    );
    await sql.query(`ANALYZE table_with_fk`);
  }

  /** Opens every session's client (connecting is not part of any measured operation). */
  static async open(connect: Connect, opts: AppSessionsOptions = {}): Promise<AppSessions> {
    const app = new AppSessions(opts);
    const add = async (name: string, role: SessionRole) => {
      const s = new Session(await connect(name), name, role, app.errors, app.expected);
      app.sessions.push(s);
      return s;
    };
    for (let i = 0; i < app.opts.viewReaders; i++) await add(`app view reader ${i + 1}`, 'reader');
    await add('app view+table transaction reader', 'reader');
    for (let i = 0; i < app.opts.joinReaders; i++) await add(`app join reader ${i + 1}`, 'reader');
    for (let i = 0; i < app.opts.childWriters; i++) await add(`app child writer ${i + 1}`, 'writer');
    for (let i = 0; i < app.opts.parentDeleters; i++) await add(`app parent deleter ${i + 1}`, 'writer');
    app.report = new Session(await connect('app report'), 'app report', 'report', app.errors, app.expected);
    app.longWriter = new Session(await connect('app long writer'), 'app long writer', 'long-writer', app.errors, app.expected);
    const bound = await app.sessions[0]!.client.query(`SELECT coalesce(max(id), 0)::int AS n FROM table_with_fk`);
    app.childIdBound = bound.rows[0].n + 1;
    return app;
  }

  start(): void {
    this.running = true;
    this.loops = this.sessions.map((s, i) => {
      const rand = xorshift(this.opts.seed * 7919 + i * 104729 + 17);
      if (s.stats.name.startsWith('app view reader')) return this.loop(() => this.viewRead(s, rand, i % 2 === 0));
      if (s.stats.name.startsWith('app view+table')) return this.loop(() => this.viewThenTable(s, rand));
      if (s.stats.name.startsWith('app join reader')) return this.loop(() => this.joinRead(s, rand));
      if (s.stats.name.startsWith('app child writer')) return this.loop(() => this.childWrite(s, rand), this.opts.writerPauseMs);
      return this.loop(() => this.parentDelete(s, rand), this.opts.deletePauseMs);
    });
  }

  private async loop(op: () => Promise<void>, pauseMs = this.opts.pauseMs): Promise<void> {
    while (this.running) {
      await op();
      if (pauseMs > 0) await sleep(pauseMs);
    }
  }

  private parentId(rand: () => number): number {
    return SAFE_MIN_ID + Math.floor(rand() * (PICK_RANGE - SAFE_MIN_ID));
  }

  /** (a) autocommit reads through the view; one reader uses a named (prepared) statement. */
  private viewRead(s: Session, rand: () => number, prepared: boolean): Promise<void> {
    return s.unit(false, async ({ q }) => {
      await q(`SELECT count(*) FROM view_on_repack WHERE id = $1`, [this.parentId(rand)], prepared ? 'app_view_count' : undefined);
    });
  }

  /** (a) short transactions that read the view, then the table. */
  private viewThenTable(s: Session, rand: () => number): Promise<void> {
    const id = this.parentId(rand);
    return s.unit(true, async ({ q }) => {
      await q(`SELECT count(*) FROM view_on_repack WHERE id = $1`, [id]);
      await q(`SELECT name, value FROM table_for_repack WHERE id = $1`, [id]);
    });
  }

  /** (b) the table joined with its child table. */
  private joinRead(s: Session, rand: () => number): Promise<void> {
    return s.unit(false, async ({ q }) => {
      await q(
        `SELECT t.id, t.name, t.value, c.id AS child_id, c.note
         FROM table_for_repack t JOIN table_with_fk c ON c.tfr_id = t.id WHERE t.id = $1`,
        [this.parentId(rand)],
        'app_join',
      );
    });
  }

  /** A parent id that exists (as far as the control table knows), read without touching the table. */
  private async existingParent(q: Query, rand: () => number): Promise<number | undefined> {
    const r = await q(`SELECT id FROM control_for_repack WHERE id >= $1 AND id < $2 ORDER BY id LIMIT 1`, [this.parentId(rand), PICK_RANGE]);
    return r.rows[0]?.id;
  }

  /** (c) child-table writers: insert (the foreign-key check reads the table), update, delete. */
  private childWrite(s: Session, rand: () => number): Promise<void> {
    const op = rand();
    if (op < 0.35) {
      return s.unit(false, async ({ q }) => {
        const parent = await this.existingParent(q, rand);
        if (parent === undefined) return;
        const r = await q(`INSERT INTO table_with_fk (tfr_id, note) VALUES ($1, $2) RETURNING id`, [parent, `app ${Math.floor(rand() * 1e6)}`]);
        this.childIdBound = Math.max(this.childIdBound, r.rows[0].id + 1);
      });
    }
    if (op < 0.55) {
      // An order line and then its order: the child first, then the table, in one transaction.
      return s.unit(true, async ({ q }) => {
        const parent = await this.existingParent(q, rand);
        if (parent === undefined) return;
        const r = await q(`INSERT INTO table_with_fk (tfr_id, note) VALUES ($1, 'app line') RETURNING id`, [parent]);
        this.childIdBound = Math.max(this.childIdBound, r.rows[0].id + 1);
        await q(`SELECT name, value FROM table_for_repack WHERE id = $1`, [parent]);
      });
    }
    const child = Math.floor(rand() * this.childIdBound);
    if (op < 0.85) {
      return s.unit(false, async ({ q }) => {
        await q(
          `UPDATE table_with_fk SET note = $2 WHERE id = (SELECT id FROM table_with_fk WHERE id >= $1 ORDER BY id LIMIT 1)`,
          [child, `upd ${Math.floor(rand() * 1e6)}`],
        );
      });
    }
    return s.unit(false, async ({ q }) => {
      await q(`DELETE FROM table_with_fk WHERE id = (SELECT id FROM table_with_fk WHERE id >= $1 ORDER BY id LIMIT 1)`, [child]);
    });
  }

  /**
   * (d) deletes on the parent that cascade to the child, mirrored into the control table in the
   * same transaction. Half of them first look the parent up through its child rows.
   */
  private parentDelete(s: Session, rand: () => number): Promise<void> {
    const viaChild = rand() < 0.5;
    const child = Math.floor(rand() * this.childIdBound);
    const fallback = this.parentId(rand);
    return s.unit(true, async ({ q }) => {
      let parent: number | undefined;
      if (viaChild) {
        const r = await q(`SELECT tfr_id FROM table_with_fk WHERE id >= $1 AND tfr_id >= $2 AND tfr_id < $3 ORDER BY id LIMIT 1`, [
          child, SAFE_MIN_ID, PICK_RANGE,
        ]);
        parent = r.rows[0]?.tfr_id;
      }
      parent ??= (await q(`SELECT id FROM control_for_repack WHERE id >= $1 AND id < $2 ORDER BY id LIMIT 1`, [fallback, PICK_RANGE])).rows[0]?.id;
      if (parent === undefined) return;
      const r = await q(`DELETE FROM table_for_repack WHERE id = $1 RETURNING id`, [parent]);
      for (const row of r.rows) await q(`DELETE FROM control_for_repack WHERE id = $1`, [row.id]);
    });
  }

  /**
   * (e) a 5-second report through the view joined with the child table. Resolves when the
   * report has finished (stop() waits for it too).
   */
  startReport(seconds = 5): Promise<void> {
    const s = this.report;
    if (s === undefined || this.reportRun !== undefined) throw new Error('the report is already running or the sessions are not open');
    this.reportResult.started = true;
    const sql = `WITH pause AS MATERIALIZED (SELECT pg_sleep($1::float8) AS slept)
      SELECT count(*) AS n, sum(v.value) AS total, count(c.id) AS children
      FROM view_on_repack v LEFT JOIN table_with_fk c ON c.tfr_id = v.id CROSS JOIN pause`;
    const t = performance.now();
    this.reportRun = s.unit(false, async ({ q }) => {
      await q(sql, [seconds]);
    }).then(() => {
      this.reportResult.durationMs = performance.now() - t;
      this.reportResult.error = this.errors.find((e) => e.session === s.stats.name) ?? null;
    });
    return this.reportRun;
  }

  /**
   * (f) a writer transaction that opens before the run: BEGIN, and a first write to the control
   * table (a new row, the same one commitLongWriter puts into table_for_repack), so the
   * transaction has its xid from before the copy snapshot.
   */
  async openLongWriter(): Promise<void> {
    const s = this.longWriter!;
    try {
      await s.q('BEGIN');
      const r = await s.q(
        `INSERT INTO control_for_repack (id, name, value, excluded, created_at)
         VALUES (nextval('table_for_repack_id_seq'), 'long writer ' || currval('table_for_repack_id_seq'), 42, nextval('excluded_seq'), now())
         RETURNING id`,
      );
      this.longWriterState = { opened: true, committed: false, id: r.rows[0].id };
    } catch (err) {
      await s.client.query('ROLLBACK').catch(() => undefined);
      s.record(err, 'open long writer');
    }
  }

  /**
   * Later (the test calls it after the copy snapshot), the long writer writes table_for_repack:
   * inserts the row it wrote into the control table, updates an existing row (mirrored), and
   * commits.
   */
  async commitLongWriter(): Promise<void> {
    const s = this.longWriter!;
    if (!this.longWriterState.opened) return;
    let current = '';
    const q = (text: string, values?: unknown[]) => {
      current = text;
      return s.q(text, values);
    };
    try {
      await q(
        `INSERT INTO table_for_repack (id, name, value, excluded, created_at)
         SELECT id, name, value, excluded, created_at FROM control_for_repack WHERE id = $1`,
        [this.longWriterState.id],
      );
      const target = await q(`SELECT id FROM control_for_repack WHERE id >= $1 ORDER BY id LIMIT 1`, [PICK_RANGE]);
      const id = target.rows[0]?.id;
      if (id !== undefined) {
        await q(`UPDATE table_for_repack SET value = (value + 7) % 1000 WHERE id = $1`, [id]);
        await q(
          `INSERT INTO control_for_repack (id, name, value, excluded, created_at)
           SELECT id, name, value, excluded, created_at FROM table_for_repack WHERE id = $1
           ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, value = EXCLUDED.value, excluded = EXCLUDED.excluded,
             created_at = EXCLUDED.created_at`,
          [id],
        );
      }
      await q('COMMIT');
      this.longWriterState.committed = true;
      s.stats.commits++;
    } catch (err) {
      await s.client.query('ROLLBACK').catch(() => undefined);
      s.record(err, current);
    }
  }

  async stop(): Promise<AppSessionsResult> {
    this.running = false;
    await Promise.all(this.loops);
    await this.reportRun;
    if (this.longWriterState.opened && !this.longWriterState.committed) {
      await this.longWriter!.client.query('ROLLBACK').catch(() => undefined);
    }
    const all = [...this.sessions, this.report!, this.longWriter!];
    await Promise.all(all.map((s) => s.client.end().catch(() => undefined)));
    const worst = (role: SessionRole) => Math.max(0, ...this.sessions.filter((s) => s.stats.role === role).map((s) => s.stats.worstMs));
    return {
      applicationErrors: [...this.errors],
      expected: Object.fromEntries(this.expected),
      sessions: all.map((s) => ({ ...s.stats })),
      writersWorstMs: worst('writer'),
      readersWorstMs: worst('reader'),
      report: { ...this.reportResult },
      longWriter: { ...this.longWriterState },
    };
  }
}
