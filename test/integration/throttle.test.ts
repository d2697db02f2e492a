/**
 * Throttling the chunked copy (issue 15): pause_repack / resume_repack through the state table,
 * and max_wal_rate measured from outside by the server's WAL position. (max_replica_lag has its
 * own file: it needs a replica.)
 */
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { makeHome, runCli, spawnCli, writeConfig, type RunningCli } from '../support/cli.js';
import { type TestDatabase, useOwnServer, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, loadSeed, sessionAs, tableOid } from '../support/seed.js';
import { checksum, SeedWorkload } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('throttle', async (d, s) => {
  db = d;
  sql = s;
});

function config(extra: string[], on: TestDatabase = db): string {
  return connectionConfig(on, [
    `tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"', 'check_time = 1', 'copy_mode = "chunked"', ...extra,
  ]);
}

// A failed test must not leave its writers or its rpcl running into the next one.
let running: { workload?: SeedWorkload; run?: RunningCli } = {};
afterEach(async () => {
  running.run?.kill('SIGKILL');
  await running.workload?.stop();
  running = {};
});

const rowsCopied = async (oid: number) =>
  Number((await sql.query(`SELECT rpcl_rows_copied::int8 AS n FROM rpcl.progress_${oid} WHERE rpcl_kind = 'frontier'`)).rows[0].n);

/**
 * What rpcl's sessions hold right now: open transactions and locks on the table. A paused run
 * still polls its state row, one short statement at a time (a transaction of its own while it
 * runs): only a transaction open for more than 100 ms counts as held.
 */
async function rpclHolds(oid: number): Promise<{ transactions: number; tableLocks: number }> {
  const { rows } = await sql.query(
    `SELECT (SELECT count(*)::int FROM pg_stat_activity WHERE application_name LIKE 'rpcl%' AND datname = current_database()
               AND clock_timestamp() - xact_start > interval '100 milliseconds') AS transactions,
            (SELECT count(*)::int FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE a.application_name LIKE 'rpcl%' AND l.relation = $1::oid) AS "tableLocks"`,
    [oid],
  );
  return rows[0];
}

describe('pause_repack and resume_repack', () => {
  it('a paused run holds no transaction and no lock, copies nothing, keeps capturing; resumed, it finishes with every row', async () => {
    await loadSeed(sql, 20000);
    const oid = await tableOid(sql, 'table_for_repack');
    const writers = await Promise.all([1, 2].map(() => sessionAs(db, 'writer')));
    const workload = new SeedWorkload(writers, 51, 10);
    running.workload = workload;
    const home = makeHome();
    writeConfig(home, 'default', config(['chunk_time = 0.3', 'sleep_ratio = 2']));
    // Another host: the same config, another HOME (no pid file shared).
    const other = makeHome();
    writeConfig(other, 'default', config(['chunk_time = 0.3', 'sleep_ratio = 2']));
    workload.start();
    // 200 ms in each chunk and twice as long between chunks: the copy lasts seconds.
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-chunk:200' } });
    running.run = run;
    await run.waitFor(/phase copy: in chunks/);
    await new Promise((r) => setTimeout(r, 200));

    const pause = await runCli(['pause_repack'], { home: other });
    expect(pause.code).toBe(0);
    expect(pause.stdout).toMatch(/seed public\.table_for_repack: pause requested \(phase copy\)/);
    await run.waitFor(/throttled by paused on request/);
    expect(run.output()).not.toMatch(/phase replay/);
    const held = await rowsCopied(oid);
    const logBefore = Number((await sql.query(`SELECT count(*)::int8 AS n FROM rpcl.log_${oid}`)).rows[0].n);
    for (let i = 0; i < 10; i++) {
      expect(await rpclHolds(oid)).toEqual({ transactions: 0, tableLocks: 0 });
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(await rowsCopied(oid)).toBe(held);
    // Capture goes on: the application's changes pile up in the log meanwhile.
    expect(Number((await sql.query(`SELECT count(*)::int8 AS n FROM rpcl.log_${oid}`)).rows[0].n)).toBeGreaterThan(logBefore);
    const status = JSON.parse((await runCli(['status', '--json'], { home: other })).stdout).tables as { throttle: string | null; phase: string }[];
    expect(status[0]!.phase).toBe('copy');
    expect(status[0]!.throttle).toMatch(/^paused on request/);
    expect((await runCli(['pause_repack'], { home: other })).stdout).toMatch(/no running rpcl run of config default: nothing to pause/);

    const resume = await runCli(['resume_repack'], { home: other });
    expect(resume.stdout).toMatch(/seed public\.table_for_repack: resumed \(phase copy\)/);
    const result = await run.done;
    const stats = await workload.stop();
    await Promise.all(writers.map((w) => w.end()));
    // Resumed, it went back to its own pace (sleep_ratio), and finished.
    expect(result.stderr.lastIndexOf('throttled by sleep_ratio')).toBeGreaterThan(result.stderr.indexOf('throttled by paused on request'));
    expect(result.code).toBe(0);
    expect(stats.unexpected).toEqual([]);
    expect(await tableOid(sql, 'table_for_repack')).not.toBe(oid);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});

describe('a pause and a stop', () => {
  it('a pause asked of a run that then stopped does not hold the run that continues its chunked copy', async () => {
    await loadSeed(sql, 20000);
    const oid = await tableOid(sql, 'table_for_repack');
    const home = makeHome();
    writeConfig(home, 'default', config(['chunk_time = 0.3', 'sleep_ratio = 2']));
    const run = spawnCli(['repack_tables', '--debug'], { home, env: { RPCL_TEST_PAUSE: 'copy-chunk:200' } });
    await run.waitFor(/phase copy: in chunks/);
    expect((await runCli(['pause_repack'], { home })).stdout).toMatch(/pause requested/);
    await run.waitFor(/throttled by paused on request/);
    run.kill('SIGTERM');
    expect((await run.done).code).toBe(130);
    const next = await runCli(['repack_tables', '--debug'], { home });
    expect(next.stderr).toMatch(/continuing the chunked copy after key/);
    expect(next.stderr).not.toMatch(/paused on request/);
    expect(next.code).toBe(0);
    expect(await tableOid(sql, 'table_for_repack')).not.toBe(oid);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});

/** The largest WAL rate over any window of `windowMs` among samples (bytes/s). */
function peakWindowRate(samples: { at: number; lsn: number }[], windowMs: number): number {
  let peak = 0;
  for (let i = 0, j = 0; i < samples.length; i++) {
    while (j + 1 < i && samples[i]!.at - samples[j + 1]!.at >= windowMs) j++;
    const span = samples[i]!.at - samples[j]!.at;
    if (span >= windowMs) peak = Math.max(peak, ((samples[i]!.lsn - samples[j]!.lsn) * 1000) / span);
  }
  return peak;
}

describe('max_wal_rate', () => {
  // The limit is server-wide (everyone's WAL counts): this test has a server of its own, so that
  // other test files' writes do not hold the copy back or blur the measurement.
  let own: TestDatabase;
  let ownSql: pg.Client;
  useOwnServer('wal', (d, s) => {
    own = d;
    ownSql = s;
  });

  // Tolerance: a chunk's WAL is only known after it (a checkpoint's full-page writes can
  // multiply it), and the throttle waits only between chunks: 15% over the whole copy, 30% over
  // any 10 s window.
  it('keeps the WAL rate of the chunked copy within the limit: over the copy and over every 10 s window', async () => {
    await loadSeed(ownSql, 50000);
    const limitMB = 0.5;
    const home = makeHome();
    writeConfig(home, 'default', config(['chunk_time = 0.2', `max_wal_rate = ${limitMB}`], own));
    const sampler = await sessionAs(own, 'wal sampler');
    const samples: { at: number; lsn: number }[] = [];
    let sampling = true;
    const run = spawnCli(['repack_tables', '--debug'], { home });
    await run.waitFor(/phase copy: in chunks/);
    const loop = (async () => {
      while (sampling) {
        const { rows } = await sampler.query(`SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8 AS lsn`);
        samples.push({ at: Date.now(), lsn: Number(rows[0].lsn) });
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await run.waitFor(/phase replay/, 120_000);
    sampling = false;
    await loop;
    await sampler.end();
    const result = await run.done;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/throttled by max_wal_rate: the server writes [\d.]+ MB\/s of WAL \(limit 0\.5 MB\/s\)/);
    const copyMs = samples[samples.length - 1]!.at - samples[0]!.at;
    const walMB = (samples[samples.length - 1]!.lsn - samples[0]!.lsn) / 1048576;
    const peak = peakWindowRate(samples, 10_000) / 1048576;
    console.log(`max_wal_rate test: ${walMB.toFixed(1)} MB of WAL in ${copyMs} ms, peak over 10 s windows ${peak.toFixed(2)} MB/s`);
    // Enough WAL for the limit to matter: unthrottled, this copy takes well under a second.
    expect(walMB).toBeGreaterThan(3);
    // The copy took at least about as long as its WAL at the limit's rate.
    expect(copyMs).toBeGreaterThan(((walMB / limitMB) * 1000) * 0.7);
    expect(peak).toBeLessThan(limitMB * 1.3);
    expect(peak).toBeGreaterThan(limitMB * 0.5);
    expect(walMB / (copyMs / 1000)).toBeLessThan(limitMB * 1.15);
    expect(await checksum(ownSql, 'table_for_repack')).toEqual(await checksum(ownSql, 'control_for_repack'));
    expect(await rpclLeftovers(ownSql)).toEqual([]);
  });
});

describe('sleep_ratio', () => {
  /**
   * The share of the chunked copy's time that rpcl's work session spends inside a transaction,
   * sampled every 10 ms from outside, from the copy's start to the replay's.
   */
  async function copyBusyShare(extra: string[]): Promise<{ share: number; samples: number }> {
    const home = makeHome();
    writeConfig(home, 'default', config(['chunk_time = 0.2', ...extra]));
    const sampler = await sessionAs(db, 'busy sampler');
    const states: boolean[] = [];
    let sampling = true;
    const run = spawnCli(['repack_tables', '--debug'], { home });
    running.run = run;
    await run.waitFor(/phase copy: in chunks/);
    const loop = (async () => {
      while (sampling) {
        const { rows } = await sampler.query(
          `SELECT count(*) FILTER (WHERE xact_start IS NOT NULL)::int AS busy FROM pg_stat_activity
            WHERE application_name = 'rpcl work' AND datname = current_database()`,
        );
        states.push(rows[0].busy > 0);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    await run.waitFor(/phase replay/, 120_000);
    sampling = false;
    await loop;
    await sampler.end();
    expect((await run.done).code).toBe(0);
    return { share: states.filter(Boolean).length / states.length, samples: states.length };
  }

  // Tolerance: with sleep_ratio r the work session is in a transaction 1/(1+r) of the copy's
  // time, less the few milliseconds between chunks (progress reads, sizing the next chunk) that
  // count as pause too: 0.5 for r = 1, accepted within 0.3 to 0.62. Unthrottled, above 0.75.
  it('pauses that fraction of each chunk\'s work time between chunks', async () => {
    await loadSeed(sql, 120000);
    const paced = await copyBusyShare(['sleep_ratio = 1']);
    const free = await copyBusyShare([]);
    console.log(`sleep_ratio test: in a transaction ${(paced.share * 100).toFixed(0)}% of ${paced.samples} samples with sleep_ratio 1, ` +
      `${(free.share * 100).toFixed(0)}% of ${free.samples} without`);
    expect(paced.samples).toBeGreaterThan(50);
    expect(paced.share).toBeGreaterThan(0.3);
    expect(paced.share).toBeLessThan(0.62);
    expect(free.share).toBeGreaterThan(0.75);
    expect(await checksum(sql, 'table_for_repack')).toEqual(await checksum(sql, 'control_for_repack'));
    expect(await rpclLeftovers(sql)).toEqual([]);
  });
});
