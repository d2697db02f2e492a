/** On a terminal, repack_tables shows progress bars and a line per swap attempt. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { makeHome, projectRoot, runCli, writeConfig } from '../support/cli.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { connectionConfig, loadSeed } from '../support/seed.js';

let db: TestDatabase;
let sql: pg.Client;

useTestDatabase('progress', async (d, s) => {
  db = d;
  sql = s;
  await loadSeed(s, 20000);
});

/** Runs rpcl under a pseudo-terminal (util-linux `script`). */
function onTerminal(args: string[], home: string): Promise<string> {
  const cmd = [process.execPath, join(projectRoot, 'bin', 'rpcl.js'), ...args].map((a) => `'${a}'`).join(' ');
  return new Promise((resolve, reject) => {
    execFile('script', ['-qefc', cmd, '/dev/null'], { env: { ...process.env, HOME: home, COLUMNS: '120' }, timeout: 120_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

describe('progress', () => {
  it('draws bars for the copy and the indexes on a terminal', async () => {
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"']));
    const out = await onTerminal(['repack_tables', '--foreground'], home);
    expect(out).toMatch(/public\.table_for_repack copy +\|[█░]+\| 100% \d+\/\d+ rows/);
    expect(out).toMatch(/public\.table_for_repack indexes \|[█░]+\| 100% 5\/5 built/);
    expect(out).toMatch(/public\.table_for_repack swap attempt 1\/5: done, lock held \d+ ms/);
  });

  it('prints no bars when the output is not a terminal', async () => {
    const home = makeHome();
    writeConfig(home, 'default', connectionConfig(db, [`tables = ["public.table_for_repack"]`, 'lock_timeout = "1s"']));
    const r = await runCli(['repack_tables'], { home });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/[█░]/);
  });
});
