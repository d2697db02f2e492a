/**
 * The README's first command: `rpcl demo` on a small table succeeds, reports the table equal to
 * its control copy, and leaves no server process behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeHome, runCli } from '../support/cli.js';

/** Servers running on `dir`: other test files start and stop servers of their own meanwhile. */
function serversOn(dir: string): number {
  const out = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.includes(`postgres -D ${dir}`)).length;
}

describe('rpcl demo', () => {
  it('repacks the seed example under writers and reports the table equal to its control copy', async () => {
    const r = await runCli(['demo', '--rows', '20000', '--writers', '2', '--rate', '100'], { home: makeHome() });
    expect(r.stdout).toMatch(/result: +done/);
    expect(r.stdout).toMatch(/table equals control copy: yes/);
    expect(r.stdout).toMatch(/size before -> after: +[\d.]+ [kM]B -> [\d.]+ [kM]B/);
    expect(r.stdout).toMatch(/2 writers running \(100 transactions\/s each\)/);
    // Paced writers: 2 x 100 transactions per second, not more, and not far less.
    const [, writesBefore] = /writes\/s before, during: +(\d+), \d+/.exec(r.stdout) ?? [];
    expect(Number(writesBefore)).toBeGreaterThan(150);
    expect(Number(writesBefore)).toBeLessThanOrEqual(202);
    expect(r.stdout).toMatch(/writer latency during: +p99 [\d.]+ ms, worst stall [\d.]+ ms/);
    expect(r.code).toBe(0);
    // Its own server is stopped and its data removed.
    const dir = /its data directory: (\S+) \(removed at the end\)/.exec(r.stdout)?.[1];
    expect(dir).toMatch(/rpcl-pg/);
    expect(serversOn(dir!)).toBe(0);
    expect(existsSync(dir!)).toBe(false);
  });

  it('refuses bad options with usage exit 2 and starts no server', async () => {
    const r = await runCli(['demo', '--rows', '0', '--writers', '1.5', '--rate', '-3'], { home: makeHome() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--rows must be a whole number of at least 2 \(got 0\)/);
    expect(r.stderr).toMatch(/--writers must be a whole number, 0 or more \(got 1.5\)/);
    expect(r.stderr).toMatch(/--rate must be 0 \(back to back\) or a number of transactions per second \(got -3\)/);
    expect(r.stdout).not.toMatch(/starting a throwaway PostgreSQL|its data directory/);
  });
});
