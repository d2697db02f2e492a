/** `repack_tables --dry-run` prints the plan with locks and timeouts and changes nothing. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, projectRoot, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { connectionConfig, loadSeed } from '../support/seed.js';
import { checksum } from '../support/workload.js';

let db: TestDatabase;
let sql: pg.Client;
const run = promisify(execFile);

useTestDatabase('dryrun', async (d, s) => {
  db = d;
  sql = s;
  await loadSeed(s, 5000);
  await s.query(`DROP SCHEMA IF EXISTS rpcl CASCADE; CREATE TABLE public.no_key (a int)`);
});

async function catalog(): Promise<string> {
  const { rows } = await sql.query(`SELECT md5(string_agg(x, ',' ORDER BY x)) AS m FROM (
    SELECT 'c' || oid || relname || relfilenode || relkind::text AS x FROM pg_class
    UNION ALL SELECT 't' || oid || tgname FROM pg_trigger
    UNION ALL SELECT 'n' || oid || nspname FROM pg_namespace
    UNION ALL SELECT 'p' || oid || proname FROM pg_proc
    UNION ALL SELECT 'k' || oid || conname || convalidated FROM pg_constraint) s`);
  return rows[0].m;
}

describe('--dry-run', () => {
  it('lists tables, refusals and SQL with locks and timeouts, and changes nothing', async () => {
    const before = { catalog: await catalog(), data: await checksum(sql, 'table_for_repack') };
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [
      `tables = ["public.table_for_repack", "public.no_key"]`, 'lock_timeout = "2s"', 'swap_attempts = 4',
    ]));
    const r = await runCli(['repack_tables', '--dry-run'], { home });
    expect(r.stdout).toMatch(/a run would first create the helper schema rpcl/);
    expect(r.stdout).toMatch(/\d\. public\.table_for_repack: .* about \d+ rows, estimated bloat/);
    expect(r.stdout).toMatch(/public\.no_key: refused: it has no primary key/);
    // The summary a DBA reads first, before the SQL: sizes, bloat, size after, extra space,
    // copy mode, every lock on the table with its bound, the phases.
    const summary = r.stdout.slice(r.stdout.indexOf('public.table_for_repack: '), r.stdout.indexOf(' SQL, phase by phase:'));
    const size = '\\d+\\.\\d (?:kB|MB)';
    expect(summary).toMatch(new RegExp(`\\n   size now {9}${size}: heap ${size}, indexes ${size}, TOAST and maps \\d+(?:\\.\\d)? (?:B|kB|MB)\\n`));
    expect(summary).toMatch(new RegExp(`\\n   estimated bloat  ${size}, \\d+% of the heap \\(from statistics\\)\\n`));
    expect(summary).toMatch(new RegExp(`\\n   expected after   about ${size}\\n`));
    expect(summary).toMatch(new RegExp(`\\n   extra space      about ${size} during the run \\(the copy and its indexes\\)`));
    expect(summary).toContain('\n   copy mode        snapshot (copy_mode snapshot): one REPEATABLE READ transaction');
    expect(summary).toContain([
      "   locks on it      a wait is also the longest the application's queries on the table queue behind it",
      '     SHARE ROW EXCLUSIVE     capture, to create the triggers: waits up to lock_timeout 2000 ms, 4 tries with backoff; held for milliseconds',
      '     ACCESS EXCLUSIVE        swap: waits up to lock_timeout 2000 ms, then held for the final catch-up (tried only when predicted under 100 ms) and the renames, statement_timeout 5000 ms; 4 attempts',
      '     SHARE UPDATE EXCLUSIVE  after the swap, ANALYZE: waits up to lock_timeout 2000 ms, 10 tries; reads and writes go on',
      "     ACCESS EXCLUSIVE        only when the run's work is removed (failure, stop, abort_repack), to drop the capture triggers: waits up to lock_timeout 2000 ms, 10 tries",
      '   other locks      swap: ACCESS EXCLUSIVE on "public"."view_on_repack", "public"."table_with_fk"; after the swap: SHARE UPDATE EXCLUSIVE on "public"."table_with_fk"',
      '   phases           capture > copy > indexes > replay > swap > after the swap',
    ].join('\n'));
    // Then the SQL, as before.
    expect(r.stdout.indexOf(' SQL, phase by phase:\n capture:\n')).toBeGreaterThan(r.stdout.indexOf('   phases '));
    expect(r.stdout).toMatch(/-- create the capture triggers \(ENABLE ALWAYS\) \[locks SHARE ROW EXCLUSIVE on "public"\."table_for_repack"; lock_timeout 2000 ms, up to 4 attempts with backoff\]/);
    // The swap's locks in the application's order: the view, the referencing table, the table;
    // then nothing is waited for.
    const budget = "all the swap's lock waits together within lock_timeout 2000 ms, once one is held, the rest within 80% of deadlock_timeout of the first request; statement_timeout 5000 ms, up to 4 attempts";
    const swapLocks = [
      `  -- lock view "public"."view_on_repack" (its owner stays ${db.user}) [locks ACCESS EXCLUSIVE on "public"."view_on_repack"; ${budget}]`,
      `  ALTER VIEW "public"."view_on_repack" OWNER TO "${db.user}";`,
      `  -- lock "public"."table_with_fk" [locks ACCESS EXCLUSIVE on "public"."table_with_fk"; ${budget}]`,
      '  LOCK TABLE "public"."table_with_fk" IN ACCESS EXCLUSIVE MODE;',
      `  -- lock "public"."table_for_repack" [locks ACCESS EXCLUSIVE on "public"."table_for_repack"; ${budget}]`,
      '  LOCK TABLE "public"."table_for_repack" IN ACCESS EXCLUSIVE MODE;',
      '  -- from here on no lock is waited for: one that is not free at once fails the attempt',
      "  SELECT set_config('lock_timeout', '1ms', true);",
    ].join('\n');
    expect(r.stdout).toContain(swapLocks);
    expect(r.stdout).toMatch(/ALTER TABLE "public"\."table_with_fk" ADD CONSTRAINT "table_with_fk_tfr_id_fkey" FOREIGN KEY \(tfr_id\) REFERENCES public\.table_for_repack\(id\) ON UPDATE CASCADE ON DELETE CASCADE NOT VALID;/);
    expect(r.stdout).toMatch(/CREATE OR REPLACE VIEW "public"\."view_on_repack" AS SELECT/);
    expect(r.code).toBe(5);
    expect(await catalog()).toBe(before.catalog);
    expect(await checksum(sql, 'table_for_repack')).toEqual(before.data);
  });
});

describe('output to a closed pipe', () => {
  it('ends quietly with the dry run\'s own exit code when the reader goes away (`| head -1`)', async () => {
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack", "public.no_key"]`]));
    const bin = join(projectRoot, 'bin', 'rpcl.js');
    // The reader exits at once: every line rpcl writes meets a closed pipe.
    const { stdout, stderr } = await run('bash', ['-c', `"${process.execPath}" "${bin}" repack_tables --dry-run | (exit 0); echo "rpcl exit \${PIPESTATUS[0]}"`], {
      env: { ...process.env, HOME: home },
    });
    expect(stderr).toBe('');
    // 5: the table without a key is refused, as without the pipe.
    expect(stdout.trim()).toBe('rpcl exit 5');
  });
});
