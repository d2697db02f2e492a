/**
 * Configuration mistakes are reported before any database is touched: each case runs the real
 * binary against a config whose connection points at a tripwire listener that counts TCP
 * connections, and that count must stay zero.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { startTripwire, type Tripwire } from '../support/tripwire.js';

let wire: Tripwire;

beforeAll(async () => {
  wire = await startTripwire();
});
afterAll(async () => {
  await wire.close();
});

function conn(extra = ''): string {
  return `[connections.prod]\nhost = "127.0.0.1"\nport = ${wire.port}\nuser = "app"\npassword = "s3cret-pw"\ndatabase = "app"\n${extra}`;
}

async function expectConfigError(toml: string, args: string[], pattern: RegExp) {
  const home = makeHome();
  writeConfig(home, 'default', toml);
  const before = wire.connections();
  const r = await runCli(args, { home });
  expect(r.stderr).toMatch(pattern);
  expect(r.code).toBe(3);
  expect(wire.connections()).toBe(before);
  expect(r.stderr).not.toContain('s3cret-pw');
  return r;
}

describe('configuration errors open no database connection', () => {
  it('malformed TOML names the line', async () => {
    const toml = `pid_dir = "~/.repcloud/pid"\n\n[logging\nlog_level = "info"\n${conn()}`;
    await expectConfigError(toml, ['create_schema'], /line 3/);
  });

  it('an unknown key names the key and the file', async () => {
    const r = await expectConfigError(conn('lock_timout = "2s"\n'), ['create_schema'], /connections\.prod\.lock_timout/);
    expect(r.stderr).toContain('default.toml');
    expect(r.stderr).toContain('lock_timeout');
  });

  it('a wrong type is named with the expected type', async () => {
    await expectConfigError(conn('max_replay_rows = "lots"\n'), ['create_schema'], /connections\.prod\.max_replay_rows/);
  });

  it('a missing required key is named', async () => {
    const toml = `[notifier]\nenable_email = true\n[notifier.email]\nmailfrom = "a@b.c"\nmailto = ["d@e.f"]\n${conn()}`;
    await expectConfigError(toml, ['create_schema'], /smtp_server/);
  });

  it('all problems are reported together', async () => {
    const r = await expectConfigError(
      conn('port2 = 1\nsslmode = "sometimes"\nanalyze_tables = "maybe"\n'),
      ['create_schema'],
      /3 configuration errors/,
    );
    expect(r.stderr).toMatch(/port2/);
    expect(r.stderr).toMatch(/sslmode/);
    expect(r.stderr).toMatch(/analyze_tables/);
  });

  it('an unknown --connection lists the known ones', async () => {
    await expectConfigError(conn() + `[connections.staging]\nhost = "127.0.0.1"\nport = ${wire.port}\n`,
      ['create_schema', '--connection', 'prdo'], /unknown connection "prdo".*prod, staging/);
  });

  it('a missing config file says which file and how to create it', async () => {
    const home = makeHome();
    const r = await runCli(['create_schema', '--config', 'nightly'], { home });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(join(home, '.repcloud', 'config', 'nightly.toml'));
    expect(r.stderr).toMatch(/config-example\.toml/);
  });
});

describe('command line', () => {
  it('the first run creates ~/.repcloud (0700) with the example config', async () => {
    const home = makeHome();
    await runCli(['show_connections'], { home });
    for (const d of ['', 'config', 'logs', 'pid']) {
      const st = statSync(join(home, '.repcloud', d));
      expect(st.isDirectory()).toBe(true);
      expect(st.mode & 0o777).toBe(0o700);
    }
    expect(existsSync(join(home, '.repcloud', 'config', 'config-example.toml'))).toBe(true);
  });

  it('the shipped example config is valid', async () => {
    const home = makeHome();
    await runCli(['--help'], { home });
    const r = await runCli(['show_connections', '--config', 'config-example'], { home });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^example\s+localhost\s+5432\s+app_owner\s+app\s+prefer/m);
  });

  it('an unknown command lists the valid ones', async () => {
    const r = await runCli(['repack_table'], { home: makeHome() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Valid commands: show_connections, create_schema, drop_schema, repack_tables/);
  });

  it('an unknown option is a usage error listing the valid options', async () => {
    const r = await runCli(['show_connections', '--conection', 'x'], { home: makeHome() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown argument/);
    expect(r.stderr).toMatch(/--connection/);
  });

  it('--help lists every repcloud command', async () => {
    const r = await runCli(['--help'], { home: makeHome() });
    expect(r.code).toBe(0);
    for (const c of ['show_connections', 'create_schema', 'drop_schema', 'repack_tables', 'prepare_repack',
      'replay_data', 'abort_repack', 'stop_repack', 'stop_prepare', 'stop_replay', 'status', 'pause_repack', 'resume_repack', 'demo']) {
      expect(r.stdout).toContain(`rpcl ${c} `);
    }
    // The options of the long commands, which a DBA looks for first.
    for (const o of ['--dry-run', '--background', '--foreground', '--start-replay', '--json']) expect(r.stdout).toContain(o);
  });

  it('show_connections prints every key but the password, as text and JSON', async () => {
    const home = makeHome();
    writeConfig(home, 'default', conn('tables = [\'public."Mixed Case"\']\nlock_timeout = "2s"\n'));
    const text = await runCli(['show_connections'], { home });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^prod\s+127\.0\.0\.1/m);
    expect(text.stdout).toContain('public."Mixed Case"');
    expect(text.stdout).not.toContain('s3cret-pw');
    const json = await runCli(['show_connections', '--json'], { home });
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'prod', port: wire.port, user: 'app', lock_timeout: '2000ms' });
    expect(rows[0]).not.toHaveProperty('password');
    expect(json.stdout).not.toContain('s3cret-pw');
    expect(wire.connections()).toBe(0);
  });
});
