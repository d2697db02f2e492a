/**
 * Issue 14, connection and log messages, through the real binary with a HOME of its own (runCli
 * strips every PG* variable, so nothing leaks in from the test's environment):
 * - no password anywhere: a message naming the connection and the three places to put one,
 *   not the driver's `SASL: ... client password must be a string`;
 * - the password only in ~/.pgpass: works, and pg's `DeprecationWarning: pgpass support is
 *   deprecated` is never printed (rpcl reads the file itself); a file others may read is ignored;
 * - connect_timeout / PGCONNECT_TIMEOUT: a server that never answers fails in about that time;
 * - log timestamps are ISO 8601 with the UTC offset, in the file and on the console.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, runCli, writeConfig } from '../support/cli.js';
import { useTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
useTestDatabase('connmsg', (d) => {
  db = d;
});

const ISO_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) /;

/** [connections.app] for the test database, without a password unless given. */
function config(opts: { password?: string; logging?: string[]; extra?: string[] } = {}): string {
  return [
    '[logging]',
    ...(opts.logging ?? []),
    '[connections.app]',
    `host = "${db.host}"`,
    `port = ${db.port}`,
    `user = "${db.user}"`,
    `database = "${db.database}"`,
    'sslmode = "disable"',
    ...(opts.password === undefined ? [] : [`password = "${opts.password}"`]),
    ...(opts.extra ?? []),
  ].join('\n');
}

function writePgpass(home: string, text: string, mode: number): string {
  const file = join(home, '.pgpass');
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

describe('a missing password', () => {
  it('names the connection, host, port, user and database and the settings to add, exit code 4', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(4);
    expect(r.stderr).not.toMatch(/SASL|client password must be a string/);
    expect(r.stderr).toContain(
      `cannot connect to PostgreSQL for connection "app" (host ${db.host}, port ${db.port}, user ${db.user}, database ${db.database}, sslmode disable): ` +
        'the server asks for a password and none is set',
    );
    expect(r.stderr).toContain('password = "..." in [connections.app]');
    expect(r.stderr).toContain('PGPASSWORD');
    expect(r.stderr).toContain(`${join(home, '.pgpass')} (mode 0600`);
    expect(r.stderr).toContain(`${db.host}:${db.port}:${db.database}:${db.user}:PASSWORD`);
    expect(r.stderr).toContain(`${join(home, '.pgpass')} does not exist`);
    expect(r.stdout + r.stderr).not.toContain(db.password);
  });

  it('says when ~/.pgpass has no matching line', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    writePgpass(home, `otherhost:${db.port}:*:${db.user}:${db.password}\n`, 0o600);
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`no line of ${join(home, '.pgpass')} matches`);
    expect(r.stdout + r.stderr).not.toContain(db.password);
  });
});

describe('~/.pgpass', () => {
  it('a password only in ~/.pgpass connects, with no DeprecationWarning', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    // Comment, a non-matching line, then a wildcard line: the first match wins.
    writePgpass(home, `# rpcl test\nother:1:x:y:wrong\n${db.host}:${db.port}:*:${db.user}:${db.password}\n`, 0o600);
    const r = await runCli(['create_schema'], { home });
    expect(r.stderr).not.toMatch(/DeprecationWarning|pgpass support is deprecated/);
    expect(r.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(db.password);
    const again = await runCli(['status', '--json'], { home });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/DeprecationWarning/);
  });

  it('PGPASSFILE replaces ~/.pgpass', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const file = join(home, 'elsewhere.pgpass');
    writeFileSync(file, `*:*:*:${db.user}:${db.password}\n`, { mode: 0o600 });
    const r = await runCli(['status', '--json'], { home, env: { PGPASSFILE: file } });
    expect(r.stderr).not.toMatch(/DeprecationWarning|password/);
    expect(r.code).toBe(0);
  });

  it('a file that group or others may read is ignored with a warning, and the error says how to fix it', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    const file = writePgpass(home, `${db.host}:${db.port}:*:${db.user}:${db.password}\n`, 0o644);
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`rpcl: warning: password file "${file}" is ignored: it has group or world access (mode 0644)`);
    expect(r.stderr).toContain(`${file} is ignored: it has group or world access (mode 0644); permissions should be u=rw (0600) or less: chmod 0600 ${file}`);
    expect(r.stdout + r.stderr).not.toContain(db.password);
  });

  it('a wrong password says where it came from', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config());
    writePgpass(home, `*:*:*:*:not-the-password\n`, 0o600);
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`password authentication failed with the password from ${join(home, '.pgpass')} line 1`);
    expect(r.stderr).not.toContain('not-the-password');
  });
});

describe('connect timeout', () => {
  // Accepts TCP connections and never answers: the client waits for the server's reply.
  let silent: Server;
  let port: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    silent = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    sockets.forEach((s) => s.destroy());
    await new Promise((resolve) => silent.close(resolve));
  });

  const silentConfig = (extra: string[]) =>
    ['[connections.slow]', 'host = "127.0.0.1"', `port = ${port}`, 'user = "app"', 'password = "pw"', 'database = "app"', 'sslmode = "disable"', ...extra].join('\n');

  it('connect_timeout = 1: a server that does not answer fails within about 2 s, naming the timeout', async () => {
    const home = makeHome();
    writeConfig(home, 'default', silentConfig(['connect_timeout = 1']));
    const started = Date.now();
    const r = await runCli(['create_schema'], { home });
    const elapsed = Date.now() - started;
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(
      `cannot connect to PostgreSQL for connection "slow" (host 127.0.0.1, port ${port}, user app, database app, sslmode disable): ` +
        'connection timed out: no answer within 1 s (connect_timeout = 1 in [connections.slow])',
    );
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(5000); // the default would be 10 s; node start-up counts too
  });

  it('PGCONNECT_TIMEOUT applies when the connection has no connect_timeout', async () => {
    const home = makeHome();
    writeConfig(home, 'default', silentConfig([]));
    const started = Date.now();
    const r = await runCli(['create_schema'], { home, env: { PGCONNECT_TIMEOUT: '1' } });
    const elapsed = Date.now() - started;
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('no answer within 1 s (PGCONNECT_TIMEOUT=1)');
    expect(elapsed).toBeLessThan(5000); // the default would be 10 s; node start-up counts too
  });

  it('an unroutable TEST-NET address with connect_timeout = 1 fails fast with exit code 4', async () => {
    // Depending on the network, 192.0.2.1 either never answers (timeout) or is refused at once.
    const home = makeHome();
    writeConfig(home, 'default', ['[connections.nowhere]', 'host = "192.0.2.1"', 'user = "app"', 'password = "pw"',
      'database = "app"', 'sslmode = "disable"', 'connect_timeout = 1'].join('\n'));
    const started = Date.now();
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/connection "nowhere" \(host 192\.0\.2\.1, port 5432.*(no answer within 1 s \(connect_timeout = 1|server unreachable)/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('log lines', () => {
  it('carry ISO 8601 timestamps with the offset, in the log file and on the console', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config({ password: db.password, logging: ['log_dest = "console"'] }));
    await runCli(['drop_schema'], { home });
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(0);
    // Log lines are the ones that start with a date (the CLI's own lines start with a word).
    const consoleLines = r.stderr.split('\n').filter((l) => /^\d/.test(l));
    expect(consoleLines.some((l) => l.includes('created the helper schema rpcl'))).toBe(true);
    for (const line of consoleLines) expect(line).toMatch(ISO_LINE);
    const fileLines = readFileSync(join(home, '.repcloud', 'logs', 'repack_default.log'), 'utf8').split('\n').filter((l) => l !== '');
    expect(fileLines.some((l) => l.includes('created the helper schema rpcl'))).toBe(true);
    for (const line of fileLines) expect(line).toMatch(ISO_LINE);
  });

  // Needs src/cli/main.ts to log the final error with FILE_ONLY (it prints it itself as
  // `rpcl: <message>`): `rt.log.error(message, FILE_ONLY)`. Enable with that change.
  it('with log_dest = "console" an error is printed once', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config({ logging: ['log_dest = "console"'] }));
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(4);
    expect(r.stderr.match(/the server asks for a password and none is set/g)).toHaveLength(1);
    const file = readFileSync(join(home, '.repcloud', 'logs', 'repack_default.log'), 'utf8');
    expect(file).toMatch(/ERROR cannot connect to PostgreSQL for connection "app"/);
  });

  // Needs src/cli/runtime.ts to pass `format: config.logging.logFormat` to createLogger.
  it('log_format = "json" writes one JSON object per line', async () => {
    const home = makeHome();
    writeConfig(home, 'default', config({ password: db.password, logging: ['log_format = "json"'] }));
    await runCli(['drop_schema'], { home });
    const r = await runCli(['create_schema'], { home });
    expect(r.code).toBe(0);
    const rows = readFileSync(join(home, '.repcloud', 'logs', 'repack_default.log'), 'utf8')
      .split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(Object.keys(row).slice(0, 3)).toEqual(['timestamp', 'level', 'message']);
      expect(row.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
    }
    expect(rows.some((row) => row.message === 'created the helper schema rpcl' && row.level === 'info')).toBe(true);
  });
});
