/**
 * copy_mode = "chunked" (issue 15): the copy is made of short transactions under the shared
 * workload (key changes, unique values handed between rows, upserts, deletes) with readers
 * through the view and a long writer transaction; the data equals the control copy, and no
 * transaction of rpcl's lasts long although the copy does. A stop, a SIGKILL or a lost
 * connection keeps what was copied, and the next repack_tables continues from there.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig, type RunningCli } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, loadSeed, sessionAs, tableOid } from '../support/seed.js';
import { checksum, SeedWorkload } from '../support/workload.js';
import { TransactionAgeSampler } from '../support/xact-age.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('chunked', async (d, s) => {
  db = d;
  sql = s;
});

function config(extra: string[] = ['chunk_time = 0.2']): string {
  return connectionConfig(db, [
    `tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1', 'copy_mode = "chunked"', ...extra,
  ]);
}

/** The application: 3 writers of the dual-write workload and a reader through the view. */
async function application(seed: number) {
  const writers = await Promise.all([1, 2, 3].map(() => sessionAs(db, 'writer')));
  const reader = await sessionAs(db, 'reader');
  const workload = new SeedWorkload(writers, seed);
  const readerErrors: string[] = [];
  let reading = true;
  const readerLoop = (async () => {
    while (reading) {
      await reader.query(`SELECT count(*), max(value) FROM view_on_repack`).catch((e: Error) => readerErrors.push(e.message));
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  workload.start();
  return {
    workload,
    readerErrors,
    async stop() {
      const stats = await workload.stop();
      reading = false;
      await readerLoop;
      await Promise.all([...writers, reader].map((c) => c.end()));
      return stats;
    },
  };
}

async function progressRow(oid: number): Promise<{ rows_copied: number; complete: boolean } | null> {
  const { rows } = await sql.query(`SELECT to_regclass($1) IS NOT NULL AS present`, [`rpcl.progress_${oid}`]);
  if (!rows[0].present) return null;
  const p = await sql.query(`SELECT rpcl_rows_copied::int8 AS rows_copied, rpcl_complete AS complete FROM rpcl.progress_${oid} WHERE rpcl_kind = 'frontier'`);
  return { rows_copied: Number(p.rows[0].rows_copied), complete: p.rows[0].complete };
}

async function waitForRowsCopied(oid: number, atLeast: number, run: RunningCli): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const p = await progressRow(oid).catch(() => null);
    if (p !== null && p.rows_copied >= atLeast) return p.rows_copied;
    if (/exited|done in/.test(run.output())) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the chunked copy never reached ${atLeast} rows:\n${run.output()}`);
}

async function expectEqualAndClean(): Promise<void> {
  expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
  expect(await rpclLeftovers(sql)).toEqual([]);
}

describe('chunked copy', () => {
  for (const seed of [31, 32]) {
    it(`equals the control copy under writers, readers and a long writer transaction, with no long transaction of rpcl's (seed ${seed})`, async () => {
      await loadSeed(sql, 20000);
      const oid = await tableOid(sql, 'table_for_repack');
      const app = await application(seed);
      const sampler = new TransactionAgeSampler(await sessionAs(db, 'sampler'), 'rpcl%');
      sampler.start();
      const home = makeHome();
      // 100 ms in every chunk of a 0.2 s target, and four times as long between chunks
      // (sleep_ratio): the copy takes seconds, each of its transactions a fraction of one.
      // (A chunk held at the target by a pause alone would shrink to a few rows, and a copy
      // slower than the writers' inserts at the key's end would never reach it.)
      writeConfig(home, 'default', config(['chunk_time = 0.2', 'sleep_ratio = 4']));
      const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-chunk:100,replay:300' } });
      await run.waitFor(/phase copy: in chunks/);
      const copyStarted = Date.now();
      // A writer transaction open across many chunks (it began after the capture trigger, which
      // waits for writers): its rows must land in the copy whichever side of the frontier they are.
      const long = await sessionAs(db, 'long writer');
      await long.query('BEGIN');
      await long.query(`UPDATE table_for_repack SET value = value + 1 WHERE id IN (1, 9999, 19999)`);
      await long.query(`INSERT INTO table_for_repack (name, value, excluded, created_at) VALUES ('long-1', 1, -1, now())`);
      await new Promise((r) => setTimeout(r, 1500));
      await long.query(`INSERT INTO control_for_repack SELECT id, name, value, excluded, created_at FROM table_for_repack WHERE name = 'long-1'`);
      await long.query(`UPDATE control_for_repack c SET value = t.value FROM table_for_repack t WHERE t.id = c.id AND t.id IN (1, 9999, 19999)`);
      await long.query('COMMIT');
      await long.end();
      await run.waitFor(/phase replay/, 180_000);
      const copyMs = Date.now() - copyStarted;
      const result = await run.done;
      const stats = await app.stop();
      const worstAge = await sampler.stop();

      expect(result.stderr).toMatch(/swap attempt \d\/5 succeeded/);
      expect(result.code).toBe(0);
      expect(stats.unexpected).toEqual([]);
      expect(app.readerErrors).toEqual([]);
      expect(stats.commits).toBeGreaterThan(100);
      expect(await tableOid(sql, 'table_for_repack')).not.toBe(oid);
      await expectEqualAndClean();
      // The copy alone lasted seconds; no transaction of rpcl's lasted more than a chunk's.
      const chunks = Number(/copied \d+ rows in (\d+) chunks/.exec(result.stderr)?.[1] ?? 0);
      expect(chunks).toBeGreaterThanOrEqual(3);
      expect(copyMs).toBeGreaterThan(2000);
      expect(worstAge).toBeLessThan(1.5);
      expect(worstAge * 1000).toBeLessThan(copyMs / 2);
      expect(result.stderr).toMatch(/throttled by sleep_ratio: pausing 4 s per second of work/);
      expect(sampler.samples).toBeGreaterThan(20);
    }, 240_000);
  }

  it('a snapshot copy of the same table keeps one transaction open for the whole copy (the sampler sees it)', async () => {
    await loadSeed(sql, 5000);
    const sampler = new TransactionAgeSampler(await sessionAs(db, 'sampler'), 'rpcl%');
    sampler.start();
    const home = makeHome();
    writeConfig(home, 'default', config().replace('copy_mode = "chunked"', 'copy_mode = "snapshot"'));
    const run = await runCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-snapshot:2500' } });
    expect(run.code).toBe(0);
    expect(await sampler.stop()).toBeGreaterThan(2);
  });

  for (const at of ['the first chunks', 'the middle of the copy', 'the replay after the copy'] as const) {
    it(`SIGKILL during ${at}: the next repack_tables continues from the last committed chunk`, async () => {
      await loadSeed(sql, 20000);
      const oid = await tableOid(sql, 'table_for_repack');
      const app = await application(41);
      const home = makeHome();
      writeConfig(home, 'default', config());
      const pause = at === 'the replay after the copy' ? 'copy-chunk:20,replay:60000' : 'copy-chunk:100';
      const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: pause } });
      let before: number;
      if (at === 'the replay after the copy') {
        await run.waitFor(/phase replay/);
        before = (await progressRow(oid))!.rows_copied;
      } else {
        before = await waitForRowsCopied(oid, at === 'the first chunks' ? 1 : 3000, run);
      }
      run.kill('SIGKILL');
      expect((await run.done).code).toBe(137);
      const kept = await progressRow(oid);
      expect(kept).not.toBeNull();
      expect(kept!.rows_copied).toBeGreaterThanOrEqual(before);
      expect(kept!.complete).toBe(at === 'the replay after the copy');
      // The application goes on meanwhile, and its changes are captured.
      await new Promise((r) => setTimeout(r, 500));

      const next = await runCli(['repack_tables', '--debug'], { home });
      const stats = await app.stop();
      expect(next.code).toBe(0);
      if (at === 'the replay after the copy') {
        expect(next.stderr).toMatch(/resuming the complete chunked copy: no second copy is made/);
      } else {
        const m = /continuing the chunked copy after key \(\d+\): (\d+) rows were already copied/.exec(next.stderr);
        expect(m, next.stderr).not.toBeNull();
        expect(Number(m![1])).toBe(kept!.rows_copied);
      }
      expect(next.stderr).not.toMatch(/removed leftovers|starting over/);
      expect(stats.unexpected).toEqual([]);
      expect(app.readerErrors).toEqual([]);
      expect(await tableOid(sql, 'table_for_repack')).not.toBe(oid);
      await expectEqualAndClean();
    });
  }

  it('stop (SIGTERM) keeps the copy; status says so; abort_repack then removes it and leaves the table as it was', async () => {
    await loadSeed(sql, 20000);
    const oid = await tableOid(sql, 'table_for_repack');
    const app = await application(42);
    const home = makeHome();
    writeConfig(home, 'default', config());
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-chunk:100' } });
    await waitForRowsCopied(oid, 2000, run);
    run.kill('SIGTERM');
    const stopped = await run.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/stopped: stopped on request; the copy made so far is kept and capture stays on: `rpcl repack_tables` continues/);
    expect(stopped.stderr).not.toMatch(/ERROR/);
    expect((await progressRow(oid))!.rows_copied).toBeGreaterThanOrEqual(2000);
    const status = await runCli(['status', '--json'], { home });
    const row = (JSON.parse(status.stdout).tables as { table: string; status: string; phase: string; last_error: string }[])
      .find((r) => r.table === 'public.table_for_repack')!;
    expect([row.status, row.phase]).toEqual(['stopped', 'copy']);
    expect(row.last_error).toMatch(/continues from where it stopped/);

    const abort = await runCli(['abort_repack', '--debug'], { home });
    const stats = await app.stop();
    expect(abort.code).toBe(0);
    expect(abort.stderr).toMatch(/aborted the kept chunked copy of public\.table_for_repack; the table is as it was/);
    expect(stats.unexpected).toEqual([]);
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    await expectEqualAndClean();
  });

  it('an ALTER TABLE during the chunked copy ends the run within check_time, its work removed', async () => {
    await loadSeed(sql, 20000);
    const oid = await tableOid(sql, 'table_for_repack');
    const home = makeHome();
    writeConfig(home, 'default', config());
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-chunk:150' } });
    await waitForRowsCopied(oid, 1000, run);
    await sql.query(`ALTER TABLE table_for_repack ADD COLUMN extra int`);
    const altered = Date.now();
    const result = await run.done;
    expect(Date.now() - altered).toBeLessThan(5000);
    expect(result.code).toBe(6);
    expect(result.stderr).toMatch(/the table's definition changed during the run/);
    expect(result.stderr).not.toMatch(/phase replay/);
    expect(await tableOid(sql, 'table_for_repack')).toBe(oid);
    expect(await rpclLeftovers(sql)).toEqual([]);
  });

  it('a lost connection keeps the copy; a changed table makes the next run start over and say why', async () => {
    await loadSeed(sql, 20000);
    const oid = await tableOid(sql, 'table_for_repack');
    const home = makeHome();
    writeConfig(home, 'default', config());
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-chunk:100' } });
    await waitForRowsCopied(oid, 1000, run);
    await sql.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rpcl work' AND datname = current_database()`);
    const lost = await run.done;
    expect(lost.code).toBe(6);
    expect(lost.stderr).toMatch(/the copy made so far is kept and capture stays on/);
    expect(await progressRow(oid)).not.toBeNull();
    expect((await sql.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = $1::oid AND tgname LIKE 'rpcl_capture_%'`, [oid])).rows[0].n).toBe(2);

    await sql.query(`ALTER TABLE table_for_repack ADD COLUMN extra int`);
    await sql.query(`ALTER TABLE control_for_repack ADD COLUMN extra int`);
    const next = await runCli(['repack_tables', '--debug'], { home });
    expect(next.code).toBe(0);
    expect(next.stderr).toMatch(/the kept chunked copy no longer matches the table \(its definition or storage changed\): starting over/);
    expect(next.stderr).not.toMatch(/continuing the chunked copy/);
    await expectEqualAndClean();
  });
});
