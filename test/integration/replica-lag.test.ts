/**
 * max_replica_lag against a real streaming replica of the test server (test/support/replica.ts):
 * while the replica lags by more than the limit the chunked copy holds (progress stands still,
 * status says why), and goes on once the replica catches up; the data equals the control copy.
 * A role that cannot read the replicas' lag is refused before any work.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { startReplica, type Replica } from '../support/replica.js';
import { connectionConfig, loadSeed, sessionAs, tableOid } from '../support/seed.js';
import { checksum } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;
let replica: Replica;

useTestDatabase('replica_lag', async (d, s) => {
  db = d;
  sql = s;
});

function config(extra: string[], as: Partial<TestDatabase> = {}): string {
  return connectionConfig({ ...db, ...as }, [
    `tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1', 'copy_mode = "chunked"', 'chunk_time = 0.2',
    ...extra,
  ]);
}

/** The replica's lag as rpcl measures it, from the primary, in seconds (null: not measured yet). */
async function measuredLag(): Promise<number | null> {
  const { rows } = await sql.query<{ lag: number | null }>(
    `SELECT max(extract(epoch FROM greatest(replay_lag, write_lag, flush_lag)))::float8 AS lag
     FROM pg_stat_replication WHERE application_name = $1`,
    [replica.name],
  );
  return rows[0]?.lag ?? null;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\nreplica log:\n${replica.logTail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The application: an update every 50 ms, mirrored into the control table in the same
 * transaction. Its WAL is what the replica reports on, so the lag is measured all along.
 */
async function writer() {
  const c = await sessionAs(db, 'lag writer');
  const errors: string[] = [];
  let commits = 0;
  let running = true;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const id = 1 + 2 * ((i * 7919) % 10000);
      try {
        await c.query('BEGIN');
        await c.query(`UPDATE table_for_repack SET value = value + 1 WHERE id = $1`, [id]);
        await c.query(`UPDATE control_for_repack SET value = value + 1 WHERE id = $1`, [id]);
        await c.query('COMMIT');
        commits++;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await c.end();
      return { commits, errors };
    },
  };
}

async function rowsCopied(oid: number): Promise<number | null> {
  const { rows } = await sql.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [`rpcl.progress_${oid}`]);
  if (!rows[0].present) return null;
  return Number((await sql.query(`SELECT rpcl_rows_copied::int8 AS n FROM rpcl.progress_${oid} WHERE rpcl_kind = 'frontier'`)).rows[0].n);
}

describe('max_replica_lag with a streaming replica', () => {
  beforeAll(async () => {
    replica = await startReplica({ applyDelay: '0' });
  });
  afterAll(async () => {
    await replica?.stop();
  });

  it('holds the chunked copy while the replica is behind, says so in status, and goes on once it catches up', async () => {
    await loadSeed(sql, 20000);
    const oid = await tableOid(sql, 'table_for_repack');
    await replica.setApplyDelay('4s');
    const app = await writer();
    let stats: Awaited<ReturnType<typeof app.stop>>;
    try {
      // The replica applies each commit 4 s late: the primary measures that as its lag.
      const lag = await until('the replica to lag by more than 1.5 s', 20_000, async () => {
        const l = await measuredLag();
        return l !== null && l > 1.5 ? l : null;
      });
      expect(lag).toBeGreaterThan(1.5);

      const home = makeHome();
      writeConfig(home, 'default', config(['max_replica_lag = 1']));
      const run = spawnCli(['repack_tables', '--debug'], { home });
      try {
        await run.waitFor(/throttled by max_replica_lag: a replica is \d+(\.\d)? s behind \(limit 1 s\)/, 20_000);

        // status, from another terminal: the run says what holds it back.
        const other = makeHome();
        writeConfig(other, 'default', config(['max_replica_lag = 1']));
        const status = await runCli(['status', '--json'], { home: other });
        expect(status.code, status.stderr).toBe(0);
        const row = (JSON.parse(status.stdout).tables as { table: string; status: string; phase: string; throttle: string | null }[])
          .find((r) => r.table === 'public.table_for_repack');
        expect(row, status.stdout).toBeDefined();
        expect(row!.status).toBe('running');
        expect(row!.phase).toBe('copy');
        expect(row!.throttle).toMatch(/^max_replica_lag: a replica is [\d.]+ s behind \(limit 1 s\)$/);

        // Held: no chunk is copied.
        const before = await rowsCopied(oid);
        expect(before).not.toBeNull();
        await new Promise((r) => setTimeout(r, 2000));
        expect(await rowsCopied(oid)).toBe(before);
        expect(run.output()).not.toMatch(/no longer throttled/);
        expect(before!).toBeLessThan(10000);
      } catch (err) {
        // Let the run end before the next test: the replica catches up, the run goes on.
        await replica.setApplyDelay('0');
        const ended = await Promise.race([run.done, new Promise((r) => setTimeout(r, 30_000, null))]);
        if (ended === null) {
          run.kill('SIGTERM');
          await run.done;
        }
        throw err;
      }
      // The replica catches up: the run goes on.
      await replica.setApplyDelay('0');

      const result = await run.done;
      const out = result.stdout + result.stderr;
      expect(result.code, out).toBe(0);
      expect(out).toMatch(/throttled by max_replica_lag[^]*no longer throttled: full speed/);
      expect(out).toMatch(/copied 10000 rows in \d+ chunks/);
      expect(out).toMatch(/swap attempt \d\/5 succeeded/);
    } finally {
      await replica.setApplyDelay('0');
      stats = await app.stop();
    }
    expect(stats.errors).toEqual([]);
    expect(stats.commits).toBeGreaterThan(20);
    expect(await tableOid(sql, 'table_for_repack')).not.toBe(oid);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('refuses upfront a role that cannot read the replicas\' lag (no pg_monitor), leaving nothing behind', async () => {
    await loadSeed(sql, 2000);
    const role = `lag_owner_${db.database.slice(-8)}`;
    await sql.query(`CREATE ROLE ${role} LOGIN PASSWORD 'owner-pass'`);
    try {
      await sql.query(`GRANT CREATE ON DATABASE "${db.database}" TO ${role}; GRANT CREATE ON SCHEMA public TO ${role}`);
      for (const t of ['table_for_repack', 'table_with_fk', 'control_for_repack']) await sql.query(`ALTER TABLE ${t} OWNER TO ${role}`);
      await sql.query(`ALTER VIEW view_on_repack OWNER TO ${role}`);
      // The replica is there, and the superuser sees its state; the role sees the row only.
      const seen = await sql.query(`SELECT state FROM pg_stat_replication WHERE application_name = $1`, [replica.name]);
      expect(seen.rows).toEqual([{ state: 'streaming' }]);
      const asRole = await sessionAs(db, 'probe', { name: role, password: 'owner-pass' });
      const hidden = await asRole.query(`SELECT count(*)::int AS n, count(state)::int AS visible FROM pg_stat_replication`);
      await asRole.end();
      expect(hidden.rows[0].n).toBeGreaterThanOrEqual(1);
      expect(hidden.rows[0].visible).toBe(0);

      const oid = await tableOid(sql, 'table_for_repack');
      const home = makeHome();
      writeConfig(home, 'default', config(['max_replica_lag = 5'], { user: role, password: 'owner-pass' }));
      const r = await runCli(['repack_tables', '--debug'], { home });
      const out = r.stdout + r.stderr;
      expect(out).toMatch(new RegExp(`role ${role} cannot read the replicas' lag in pg_stat_replication`));
      expect(out).toMatch(new RegExp(`GRANT pg_monitor TO "${role}"`));
      // Refused before any work (exit code 5, like every refusal of a table listed by name).
      expect(r.code, out).toBe(5);
      expect(out).toMatch(/refused: max_replica_lag is set/);
      expect(out).not.toMatch(/phase (capture|copy)/);
      expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
      const triggers = await sql.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::oid AND NOT tgisinternal`, [oid]);
      expect(triggers.rows).toEqual([]);
      expect(await rpclLeftovers(sql)).toEqual([]);
      expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    } finally {
      await sql.query(`REASSIGN OWNED BY ${role} TO CURRENT_USER; DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});
