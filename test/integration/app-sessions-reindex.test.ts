/**
 * repack_indexes with the application around the table (issue 13; design notes section 6): the
 * dual-write writers, readers through the view and joins with the child table, child-table
 * writers whose foreign key points at the table, cascading deletes, a writer transaction open
 * when the rebuilds start and a 5-second report in the middle of them.
 *
 * REINDEX INDEX CONCURRENTLY waits for the long writer (a lock on the table that conflicts with
 * SHARE) and for the report's snapshot; each wait is bounded by lock_timeout, so an attempt that
 * overlaps them fails, its leftovers are dropped, and a later attempt succeeds. None of this
 * may cost the application an error or a stall beyond lock_timeout: the rebuild never queues a
 * lock that the application's statements need.
 */
import type pg from 'pg';
import { expect, it } from 'vitest';
import { AppSessions } from '../support/app-sessions.js';
import { makeHome, spawnCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { rpclLeftovers } from '../support/leftovers.js';
import { connectionConfig, loadSeed, sessionAs } from '../support/seed.js';
import { checksum, SeedWorkload } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('appidx', async (d, s) => {
  db = d;
  sql = s;
});

const ROWS = 200_000;
const LOCK_TIMEOUT_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The table's indexes with their sizes and validity, by name. */
async function indexSizes(): Promise<Record<string, { bytes: number; valid: boolean }>> {
  const { rows } = await sql.query(
    `SELECT c.relname, pg_relation_size(c.oid)::int8 AS bytes, i.indisvalid
     FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'table_for_repack'::regclass`,
  );
  return Object.fromEntries(rows.map((r) => [r.relname, { bytes: Number(r.bytes), valid: r.indisvalid }]));
}

it('repack_indexes under the application: no application error, stalls <= lock_timeout + 100 ms, indexes smaller, data equal, nothing left', async () => {
  await loadSeed(sql, ROWS);
  await AppSessions.prepareChildRows(sql);
  const before = await indexSizes();
  const home = makeHome();
  writeConfig(home, 'default', connectionConfig(db, [
    `tables = ["public.table_for_repack"]`, `lock_timeout = "${LOCK_TIMEOUT_MS}ms"`, 'swap_attempts = 10',
  ]));

  const writers = await Promise.all([1, 2].map(() => sessionAs(db, 'writer')));
  const workload = new SeedWorkload(writers, 13);
  const app = await AppSessions.open((name) => sessionAs(db, name), { seed: 13 });
  await app.openLongWriter();
  workload.start();
  app.start();
  try {
    await sleep(300);
    const run = spawnCli(['repack_indexes', '--debug'], { home });
    // The first rebuild waits for the long writer: end it, then start the report, which the
    // later rebuilds' waits for old snapshots meet.
    await run.waitFor(/rebuilding index/);
    await sleep(LOCK_TIMEOUT_MS / 2);
    await app.commitLongWriter();
    const report = app.startReport(5);
    const result = await run.done;
    await report;
    await sleep(300);
    const [stats, appResult] = await Promise.all([workload.stop(), app.stop()]);
    const output = result.stdout + result.stderr;
    const after = await indexSizes();
    console.log('repack_indexes with the application:', JSON.stringify({
      exit: result.code,
      retries: [...output.matchAll(/rebuild of [^\n]*attempt \d+\/\d+[^\n]{0,120}/g)].map((m) => m[0]),
      writersWorstMs: Math.round(stats.worstMs),
      appWritersWorstMs: Math.round(appResult.writersWorstMs),
      appReadersWorstMs: Math.round(appResult.readersWorstMs),
      report: appResult.report,
      longWriter: appResult.longWriter,
      before, after,
    }, null, 1));

    expect.soft(result.code, `exit code; output:\n${output.slice(-3000)}`).toBe(0);
    expect.soft(appResult.applicationErrors, 'errors the rebuilds caused in application sessions').toEqual([]);
    expect.soft(stats.unexpected, 'unexpected errors of the dual-write writers').toEqual([]);
    expect.soft(appResult.report.started && appResult.report.error === null, 'the report ran without error').toBe(true);
    expect.soft(appResult.longWriter.committed, 'the long writer committed').toBe(true);
    for (const s of appResult.sessions.filter((x) => x.role === 'reader' || x.role === 'writer')) {
      expect.soft(s.commits, `${s.name} made progress`).toBeGreaterThan(10);
    }
    const bound = LOCK_TIMEOUT_MS + 100;
    expect.soft(stats.worstMs, "dual-write writers' worst statement (ms)").toBeLessThanOrEqual(bound);
    expect.soft(appResult.writersWorstMs, "child writers' and parent deleters' worst statement (ms)").toBeLessThanOrEqual(bound);
    expect.soft(appResult.readersWorstMs, "readers' worst statement (ms)").toBeLessThanOrEqual(bound);

    // Half the rows were deleted before the run: every rebuilt btree index comes out smaller.
    for (const name of ['table_for_repack_pkey', 'table_for_repack_name_key', 'table_for_repack_value_idx', 'table_for_repack_created_at_idx']) {
      expect.soft(after[name]?.valid, `${name} is valid`).toBe(true);
      expect.soft(after[name]!.bytes, `${name} is smaller`).toBeLessThan(before[name]!.bytes * 0.8);
    }
    expect.soft(Object.keys(after).sort(), 'the same indexes, by name').toEqual(Object.keys(before).sort());
    expect.soft(await checksum(sql, 'table_for_repack'), 'table = control').toEqual(await checksum(sql, 'control_for_repack'));
    expect.soft(await rpclLeftovers(sql), 'leftovers').toEqual([]);
  } finally {
    await Promise.allSettled([workload.stop(), app.stop()]);
    await Promise.all(writers.map((c) => c.end()));
  }
});
