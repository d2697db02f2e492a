/**
 * The password file, read by rpcl itself with libpq's rules (so that pg's deprecated pgpass
 * lookup, which prints a DeprecationWarning, is never used), and the order in which a
 * connection's password, PGPASSWORD and the file are tried.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConnection } from '../../src/config/load.js';
import { connectTimeoutOf, endpointOf, resolvePassword } from '../../src/db/connect.js';
import { lookupPgpass, matchPgpass, pgpassFile, pgpassHost, pgpassLineFor, type PgpassTarget } from '../../src/db/pgpass.js';

const target: PgpassTarget = { host: 'db.internal', port: 5432, database: 'app', user: 'owner' };

function passwordFor(text: string, t: Partial<PgpassTarget> = {}): string | undefined {
  return matchPgpass(text, { ...target, ...t })?.password;
}

describe('matching a line', () => {
  it('matches all four fields exactly and returns the password', () => {
    expect(passwordFor('db.internal:5432:app:owner:s3cret\n')).toBe('s3cret');
    expect(passwordFor('db.internal:5433:app:owner:s3cret\n')).toBeUndefined();
    expect(passwordFor('db.internal:5432:app2:owner:s3cret\n')).toBeUndefined();
    expect(passwordFor('db.internal:5432:app:owner2:s3cret\n')).toBeUndefined();
    expect(passwordFor('db.internal.example:5432:app:owner:s3cret\n')).toBeUndefined();
    expect(passwordFor('db:5432:app:owner:s3cret\n')).toBeUndefined();
  });

  it('the first matching line wins, and its line number is kept', () => {
    const text = 'other:5432:app:owner:no\n*:*:app:owner:first\ndb.internal:5432:app:owner:second\n';
    expect(matchPgpass(text, target)).toEqual({ line: 2, password: 'first' });
  });

  it('a field that is exactly * matches anything, in every position', () => {
    expect(passwordFor('*:5432:app:owner:a')).toBe('a');
    expect(passwordFor('db.internal:*:app:owner:b')).toBe('b');
    expect(passwordFor('db.internal:5432:*:owner:c')).toBe('c');
    expect(passwordFor('db.internal:5432:app:*:d')).toBe('d');
    expect(passwordFor('*:*:*:*:e')).toBe('e');
  });

  it('* is no wildcard inside a field, and \\* is a literal star', () => {
    expect(passwordFor('db.*:5432:app:owner:x')).toBeUndefined();
    expect(passwordFor('\\*:5432:app:owner:x')).toBeUndefined();
    expect(passwordFor('\\*:5432:app:owner:x', { host: '*' })).toBe('x');
  });

  it('reads \\: and \\\\ in the fields and in the password', () => {
    expect(passwordFor('db.internal:5432:app:own\\:er:p', { user: 'own:er' })).toBe('p');
    expect(passwordFor('db.internal:5432:a\\\\b:owner:p', { database: 'a\\b' })).toBe('p');
    expect(passwordFor('db.internal:5432:app:owner:pa\\:ss\\\\word')).toBe('pa:ss\\word');
    // An unescaped colon ends the password (libpq ignores what follows).
    expect(passwordFor('db.internal:5432:app:owner:pass:extra')).toBe('pass');
    // libpq's matcher compares an unescaped colon with a colon of the value too (it only
    // ends a field where the value ends), so this matches in libpq and here.
    expect(passwordFor('db.internal:5432:app:own:er:p', { user: 'own:er' })).toBe('p');
    expect(passwordFor('db.internal:5432:app:own:er:p', { user: 'own' })).toBe('er');
  });

  it('skips comments and blank lines, accepts CRLF line ends, needs all five fields', () => {
    const text = '# db.internal:5432:app:owner:commented\n\n   \r\ndb.internal:5432:app:owner:crlf\r\n';
    expect(matchPgpass(text, target)).toEqual({ line: 4, password: 'crlf' });
    expect(passwordFor('db.internal:5432:app:owner')).toBeUndefined();
    expect(passwordFor('db.internal:5432:app')).toBeUndefined();
    expect(passwordFor('db.internal:5432:app:owner\\')).toBeUndefined();
  });

  it('a matching line with an empty password matches (libpq then has no password)', () => {
    expect(matchPgpass('db.internal:5432:app:owner:\n*:*:*:*:later\n', target)).toEqual({ line: 1, password: '' });
  });

  it('localhost matches no host and a Unix socket in the default directory; another socket matches by path', () => {
    expect(pgpassHost(undefined)).toBe('localhost');
    expect(pgpassHost('')).toBe('localhost');
    expect(pgpassHost('/var/run/postgresql')).toBe('localhost');
    expect(pgpassHost('/tmp')).toBe('localhost');
    expect(pgpassHost('/tmp/')).toBe('localhost');
    expect(pgpassHost('/srv/pg-sockets')).toBe('/srv/pg-sockets');
    expect(passwordFor('localhost:5432:app:owner:sock', { host: '/var/run/postgresql' })).toBe('sock');
    expect(passwordFor('/srv/pg-sockets:5432:app:owner:sock', { host: '/srv/pg-sockets' })).toBe('sock');
  });

  it('suggests a line with its fields escaped and a placeholder password', () => {
    expect(pgpassLineFor(target)).toBe('db.internal:5432:app:owner:PASSWORD');
    expect(pgpassLineFor({ ...target, user: 'a:b', database: 'c\\d' })).toBe('db.internal:5432:c\\\\d:a\\:b:PASSWORD');
    expect(passwordFor(pgpassLineFor({ ...target, user: 'a:b', database: 'c\\d' }, 'pw'), { user: 'a:b', database: 'c\\d' })).toBe('pw');
  });
});

describe('the file', () => {
  const home = mkdtempSync(join(tmpdir(), 'rpcl-pgpass-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const write = (name: string, text: string, mode: number) => {
    const file = join(home, name);
    writeFileSync(file, text);
    chmodSync(file, mode);
    return file;
  };

  it('is PGPASSFILE when set, else ~/.pgpass', () => {
    expect(pgpassFile('/home/dba', {})).toBe('/home/dba/.pgpass');
    expect(pgpassFile('/home/dba', { PGPASSFILE: '/etc/rpcl/pgpass' })).toBe('/etc/rpcl/pgpass');
    expect(pgpassFile('/home/dba', { PGPASSFILE: '' })).toBe('/home/dba/.pgpass');
  });

  it('a missing file is no error and no warning', () => {
    expect(lookupPgpass(target, join(home, 'nowhere'), {})).toEqual({ file: join(home, 'nowhere', '.pgpass'), read: false });
  });

  it('is read when its mode is 0600 or less', () => {
    write('.pgpass', 'db.internal:5432:app:owner:from-file\n', 0o600);
    expect(lookupPgpass(target, home, {})).toEqual({ file: join(home, '.pgpass'), read: true, match: { line: 1, password: 'from-file' } });
    chmodSync(join(home, '.pgpass'), 0o400);
    expect(lookupPgpass(target, home, {}).match?.password).toBe('from-file');
  });

  it.each([0o640, 0o604, 0o644, 0o610, 0o601])('is ignored with a reason when group or others have any access (%o)', (mode) => {
    const file = write('loose', 'db.internal:5432:app:owner:from-file\n', mode);
    const r = lookupPgpass(target, home, { PGPASSFILE: file });
    expect(r.match).toBeUndefined();
    expect(r.read).toBe(false);
    expect(r.ignored).toBe(
      `it has group or world access (mode 0${mode.toString(8)}); permissions should be u=rw (0600) or less: chmod 0600 ${file}`,
    );
  });

  it('is ignored when it is not a plain file', () => {
    const dir = join(home, 'adir');
    mkdirSync(dir);
    expect(lookupPgpass(target, home, { PGPASSFILE: dir })).toEqual({ file: dir, read: false, ignored: 'it is not a plain file' });
  });

  it('reports a file that has no matching line', () => {
    const file = write('nomatch', 'other:5432:app:owner:x\n', 0o600);
    expect(lookupPgpass(target, home, { PGPASSFILE: file })).toEqual({ file, read: true });
  });
});

describe('where the password comes from', () => {
  const home = mkdtempSync(join(tmpdir(), 'rpcl-pgpass-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const file = join(home, '.pgpass');
  writeFileSync(file, 'db.internal:5432:app:owner:from-file\n', { mode: 0o600 });
  const conn = { ...defaultConnection('prod'), host: 'db.internal', port: 5432, user: 'owner', database: 'app' };
  const endpoint = endpointOf(conn);

  it('the connection key first, then PGPASSWORD, then the file (libpq order)', () => {
    expect(resolvePassword({ ...conn, password: 'from-key' }, endpoint, home, { PGPASSWORD: 'from-env' })).toEqual({ kind: 'config', password: 'from-key' });
    expect(resolvePassword(conn, endpoint, home, { PGPASSWORD: 'from-env' })).toEqual({ kind: 'env', password: 'from-env' });
    expect(resolvePassword(conn, endpoint, home, {})).toEqual({ kind: 'pgpass', password: 'from-file', file, line: 1 });
  });

  it('none, with what the file said, when nothing matches', () => {
    expect(resolvePassword({ ...conn, user: 'other' }, { ...endpoint, user: 'other' }, home, {})).toEqual({
      kind: 'none',
      pgpass: { file, read: true },
    });
  });
});

describe('connect timeout', () => {
  const conn = defaultConnection('prod');

  it('connect_timeout of the connection, then PGCONNECT_TIMEOUT, then 10 s', () => {
    expect(connectTimeoutOf({ ...conn, connectTimeoutSeconds: 1 }, undefined, { PGCONNECT_TIMEOUT: '7' })).toEqual({
      ms: 1000,
      source: 'connect_timeout = 1 in [connections.prod]',
    });
    expect(connectTimeoutOf(conn, undefined, { PGCONNECT_TIMEOUT: ' 7 ' })).toEqual({ ms: 7000, source: 'PGCONNECT_TIMEOUT=7' });
    expect(connectTimeoutOf(conn, undefined, {}).ms).toBe(10_000);
    expect(connectTimeoutOf(conn, undefined, {}).source).toMatch(/default; set connect_timeout in \[connections\.prod\] or PGCONNECT_TIMEOUT/);
  });

  it('0 (or a negative PGCONNECT_TIMEOUT) means no limit, as in libpq', () => {
    expect(connectTimeoutOf({ ...conn, connectTimeoutSeconds: 0 }, undefined, {}).ms).toBe(0);
    expect(connectTimeoutOf(conn, undefined, { PGCONNECT_TIMEOUT: '-1' }).ms).toBe(0);
  });

  it('a PGCONNECT_TIMEOUT that is not a number is a configuration error (exit code 3)', () => {
    expect(() => connectTimeoutOf(conn, undefined, { PGCONNECT_TIMEOUT: '10s' })).toThrow(
      expect.objectContaining({ exitCode: 3, message: expect.stringContaining('PGCONNECT_TIMEOUT="10s" is not a number of seconds') }),
    );
  });
});
