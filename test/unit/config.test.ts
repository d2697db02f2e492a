/**
 * Configuration parsing and validation, without a database. Every problem text is pinned:
 * it is what the user reads to fix the file.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, readConfigFile } from '../../src/config/load.js';
import { editDistance } from '../../src/config/suggest.js';
import type { Config, ConnectionConfig } from '../../src/config/types.js';
import { ConfigError } from '../../src/errors.js';

const HOME = '/home/dba';
const FILE = '/home/dba/.repcloud/config/default.toml';

function parse(text: string): Config {
  return parseConfig(text, FILE, 'default', HOME);
}

/** The connection of a file that only has `[connections.prod]` with these lines. */
function prod(lines: string): ConnectionConfig {
  return parse(`[connections.prod]\n${lines}\n`).connections[0]!;
}

function problemsOf(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError, the file was accepted');
}

function prodProblems(lines: string): string[] {
  return problemsOf(`[connections.prod]\n${lines}\n`);
}

const CONNECTION_DEFAULTS = {
  schemas: [],
  tables: [],
  indexes: [],
  maxReplayRows: 10000,
  lockTimeoutMs: 3000,
  checkTimeSeconds: 10,
  analyzeTables: true,
  deadlockResolution: 'nothing',
  swapAttempts: 5,
  catchupTimeoutSeconds: 3600,
  parallelSessions: 2,
  copyMode: 'snapshot',
  chunkTimeSeconds: 0.5,
  sleepRatio: 0,
  maxWalRateMBps: null,
  maxReplicaLagSeconds: null,
  swapDeadlineMs: null,
  swapWindow: null,
  minBloatRatio: 0,
  minBloatBytes: 0,
} as const;

describe('defaults', () => {
  it('fills every default from a file with one empty connection', () => {
    expect(parseConfig('[connections.prod]\n', FILE, 'nightly', HOME)).toStrictEqual({
      name: 'nightly',
      file: FILE,
      pidDir: '/home/dba/.repcloud/pid',
      logging: {
        logDir: '/home/dba/.repcloud/logs',
        logLevel: 'info',
        logDest: 'file',
        logDaysKeep: 10,
        logFormat: 'text',
      },
      notifier: { enableEmail: false },
      connections: [{ name: 'prod', ...CONNECTION_DEFAULTS }],
    });
  });

  it('leaves connection keys that libpq can supply absent, also when written as ""', () => {
    const c = prod('host = ""\npassword = ""\nuser = ""\ndatabase = ""');
    expect(c).toStrictEqual({ name: 'prod', ...CONNECTION_DEFAULTS });
  });

  it('keeps connections in file order', () => {
    const config = parse('[connections.zeta]\n[connections.alpha]\n[connections.mid]\n');
    expect(config.connections.map((c) => c.name)).toEqual(['zeta', 'alpha', 'mid']);
  });
});

describe("repcloud's example file, strings for numbers and booleans", () => {
  const example = `
pid_dir = "~/.repcloud/pid"
[logging]
log_dir = "~/.repcloud/logs"
log_level = "debug"
log_dest = "file"
log_days_keep = "4"
[notifier]
enable_email = false
[notifier.email]
mailfrom= "foo@foo.bar"
mailto = ["foo@example.bar"]
smtp_server = "smtp.foo.bar"
smtp_port = "587"
smtp_ssl = "starttls"
smtp_username = "foo@foo.bar"
smtp_password = "foobar"
[connections.repack]
user = "db_username"
password = "db_password"
port = "5432"
host = "db_host"
database = "db_to_repack"
sslmode = "prefer"
schemas = ['foo',]
tables = ['foo.bar']
max_replay_rows = "100000"
lock_timeout = "3s"
check_time = "10"
analyze_tables = "yes"
`;

  it('reads every key', () => {
    expect(parse(example)).toStrictEqual({
      name: 'default',
      file: FILE,
      pidDir: '/home/dba/.repcloud/pid',
      logging: {
        logDir: '/home/dba/.repcloud/logs',
        logLevel: 'debug',
        logDest: 'file',
        logDaysKeep: 4,
        logFormat: 'text',
      },
      notifier: {
        enableEmail: false,
        email: {
          mailfrom: 'foo@foo.bar',
          mailto: ['foo@example.bar'],
          smtpServer: 'smtp.foo.bar',
          smtpPort: 587,
          smtpSsl: 'starttls',
          smtpUsername: 'foo@foo.bar',
          smtpPassword: 'foobar',
        },
      },
      connections: [
        {
          name: 'repack',
          host: 'db_host',
          port: 5432,
          user: 'db_username',
          password: 'db_password',
          database: 'db_to_repack',
          sslmode: 'prefer',
          ...CONNECTION_DEFAULTS,
          schemas: ['foo'],
          tables: [{ schema: 'foo', name: 'bar' }],
          maxReplayRows: 100000,
        },
      ],
    });
  });
});

describe('numbers', () => {
  it.each([
    ['5432', 5432],
    ['" 6543 "', 6543],
    ['"1"', 1],
    ['"65535"', 65535],
  ])('reads port = %s', (value, expected) => {
    expect(prod(`port = ${value}`).port).toBe(expected);
  });

  it.each([
    ['"abc"', 'connections.prod.port: expected an integer from 1 to 65535, got "abc"'],
    ['0', 'connections.prod.port: expected an integer from 1 to 65535, got 0'],
    ['70000', 'connections.prod.port: expected an integer from 1 to 65535, got 70000'],
    ['5432.5', 'connections.prod.port: expected an integer from 1 to 65535, got 5432.5'],
    ['"54 32"', 'connections.prod.port: expected an integer from 1 to 65535, got "54 32"'],
    ['true', 'connections.prod.port: expected an integer from 1 to 65535, got true'],
  ])('refuses port = %s', (value, problem) => {
    expect(prodProblems(`port = ${value}`)).toEqual([problem]);
  });

  it('reads max_replay_rows and check_time, fractions allowed for seconds', () => {
    const c = prod('max_replay_rows = "250"\ncheck_time = "2.5"');
    expect([c.maxReplayRows, c.checkTimeSeconds]).toEqual([250, 2.5]);
  });

  it('refuses out-of-range counts', () => {
    expect(prodProblems('max_replay_rows = 0\ncheck_time = 0.5')).toEqual([
      'connections.prod.max_replay_rows: expected an integer >= 1, got 0',
      'connections.prod.check_time: expected a number of seconds >= 1, got 0.5',
    ]);
    expect(problemsOf('[logging]\nlog_days_keep = "0"\n[connections.p]\n')).toEqual([
      'logging.log_days_keep: expected an integer >= 1, got "0"',
    ]);
  });

  it('refuses an integer too large for a JS number without losing it in the message', () => {
    expect(prodProblems('max_replay_rows = 9007199254740993')).toEqual([
      'connections.prod.max_replay_rows: expected an integer >= 1, got 9007199254740993',
    ]);
  });
});

describe('booleans', () => {
  it.each([
    ['true', true],
    ['false', false],
    ['"yes"', true],
    ['"no"', false],
    ['"YES"', true],
    ['"No"', false],
    ['"on"', true],
    ['"off"', false],
    ['"true"', true],
    ['"FALSE"', false],
    ['"1"', true],
    ['"0"', false],
    ['1', true],
    ['0', false],
  ])('reads analyze_tables = %s', (value, expected) => {
    expect(prod(`analyze_tables = ${value}`).analyzeTables).toBe(expected);
  });

  it.each(['"maybe"', '2', '""', '[true]'])('refuses analyze_tables = %s', (value) => {
    expect(prodProblems(`analyze_tables = ${value}`)).toEqual([
      `connections.prod.analyze_tables: expected a boolean (true/false, yes/no, on/off, 1/0), got ${value === '[true]' ? '[true]' : value}`,
    ]);
  });

  it('reads enable_email = "no" as false', () => {
    expect(parse('[notifier]\nenable_email = "no"\n[connections.p]\n').notifier.enableEmail).toBe(
      false,
    );
  });
});

describe('enumerations', () => {
  const logging = (lines: string): Config['logging'] =>
    parse(`[logging]\n${lines}\n[connections.p]\n`).logging;

  it.each([
    ['debug', 'debug'],
    ['info', 'info'],
    ['warning', 'warning'],
    ['warn', 'warning'],
    ['error', 'error'],
    ['WARNING', 'warning'],
    [' Info ', 'info'],
  ])('reads log_level = "%s"', (value, expected) => {
    expect(logging(`log_level = "${value}"`).logLevel).toBe(expected);
  });

  it.each(['file', 'console'])('reads log_dest = "%s"', (value) => {
    expect(logging(`log_dest = "${value}"`).logDest).toBe(value);
  });

  it.each(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])(
    'reads sslmode = "%s"',
    (value) => {
      expect(prod(`sslmode = "${value}"`).sslmode).toBe(value);
    },
  );

  it.each(['nothing', 'cancel_query', 'kill_query'])('reads deadlock_resolution = "%s"', (v) => {
    expect(prod(`deadlock_resolution = "${v}"`).deadlockResolution).toBe(v);
  });

  it('reads rpcl\'s own swap_attempts and catchup_timeout, as strings too', () => {
    expect(prod('swap_attempts = "3"').swapAttempts).toBe(3);
    expect(prod('catchup_timeout = 90').catchupTimeoutSeconds).toBe(90);
    expect(() => prod('swap_attempts = 0')).toThrow('connections.prod.swap_attempts: expected an integer from 1 to 100, got 0');
    expect(prod('parallel_sessions = "1"').parallelSessions).toBe(1);
    expect(() => prod('parallel_sessions = 9')).toThrow('connections.prod.parallel_sessions: expected an integer from 1 to 8, got 9');
  });

  it('reads the big-table keys: copy mode, chunk time and the throttles', () => {
    const c = prod('copy_mode = "Chunked"\nchunk_time = "0.25"\nsleep_ratio = 1\nmax_wal_rate = 20\nmax_replica_lag = 5');
    expect([c.copyMode, c.chunkTimeSeconds, c.sleepRatio, c.maxWalRateMBps, c.maxReplicaLagSeconds]).toEqual(['chunked', 0.25, 1, 20, 5]);
    expect(() => prod('copy_mode = "fast"')).toThrow('connections.prod.copy_mode: expected auto, snapshot or chunked, got "fast"');
    expect(() => prod('chunk_time = 10')).toThrow('connections.prod.chunk_time: expected a number of seconds from 0.05 to 4, got 10');
    expect(() => prod('max_wal_rate = 0')).toThrow('connections.prod.max_wal_rate: expected a number of MB/s >= 0.1, got 0');
  });

  it('reads connect_timeout in seconds, as a string too; 0 is no limit, absent stays absent', () => {
    expect(prod('connect_timeout = 5').connectTimeoutSeconds).toBe(5);
    expect(prod('connect_timeout = "2.5"').connectTimeoutSeconds).toBe(2.5);
    expect(prod('connect_timeout = 0').connectTimeoutSeconds).toBe(0);
    expect(prod('').connectTimeoutSeconds).toBeUndefined();
    expect(() => prod('connect_timeout = -1')).toThrow('connections.prod.connect_timeout: expected a number of seconds >= 0, got -1');
    expect(() => prod('connect_timeout = "10s"')).toThrow('connections.prod.connect_timeout: expected a number of seconds >= 0, got "10s"');
  });

  it('reads log_format text or json', () => {
    expect(parse('[logging]\nlog_format = "json"\n[connections.p]\n').logging.logFormat).toBe('json');
    expect(parse('[logging]\nlog_format = "TEXT"\n[connections.p]\n').logging.logFormat).toBe('text');
    expect(problemsOf('[logging]\nlog_format = "xml"\n[connections.p]\n')).toEqual([
      'logging.log_format: expected text or json, got "xml"',
    ]);
  });

  it('reads swap_deadline as a duration and swap_window as a daily window of local time', () => {
    expect(prod('swap_deadline = "30min"').swapDeadlineMs).toBe(1_800_000);
    expect(prod('swap_deadline = 90').swapDeadlineMs).toBe(90_000);
    expect(prod('swap_window = "23:30-01:15"').swapWindow).toEqual({ startMinute: 1410, endMinute: 75, text: '23:30-01:15' });
    expect(() => prod('swap_deadline = "0s"')).toThrow('connections.prod.swap_deadline: expected a duration of at least 1s');
    expect(() => prod('swap_window = "25:00-26:00"')).toThrow('connections.prod.swap_window: expected a daily window of local time "HH:MM-HH:MM"');
    expect(() => prod('swap_window = "02:00-02:00"')).toThrow('connections.prod.swap_window: expected a daily window');
  });

  it.each([
    ['"none"', 'none'],
    ['"starttls"', 'starttls'],
    ['"tls"', 'tls'],
    ['"ssl"', 'tls'],
    ['"implicit"', 'tls'],
    ['"STARTTLS"', 'starttls'],
    ['true', 'starttls'],
    ['false', 'none'],
    ['"yes"', 'starttls'],
    ['"no"', 'none'],
  ])('reads smtp_ssl = %s', (value, expected) => {
    const text = `[notifier.email]\nmailfrom = "a@b.c"\nmailto = "d@e.f"\nsmtp_server = "mx"\nsmtp_ssl = ${value}\n[connections.p]\n`;
    expect(parse(text).notifier.email?.smtpSsl).toBe(expected);
  });

  it('refuses a value outside each set, listing the accepted ones', () => {
    const text = `
[logging]
log_level = "verbose"
log_dest = "syslog"
[notifier.email]
smtp_ssl = "maybe"
[connections.prod]
sslmode = "preferred"
deadlock_resolution = "kill"
`;
    expect(problemsOf(text)).toEqual([
      'logging.log_level: expected debug, info, warning or error, got "verbose"',
      'logging.log_dest: expected file or console, got "syslog"',
      'notifier.email.smtp_ssl: expected none, starttls or tls, got "maybe"',
      'connections.prod.sslmode: expected disable, allow, prefer, require, verify-ca or verify-full, got "preferred"',
      'connections.prod.deadlock_resolution: expected nothing, cancel_query or kill_query, got "kill"',
    ]);
  });
});

describe('lock_timeout', () => {
  it.each([
    ['"3s"', 3000],
    ['"500ms"', 500],
    ['"1min"', 60000],
    ['"2 s"', 2000],
    ['" 2s "', 2000],
    ['"1.5s"', 1500],
    ['"1500000us"', 1500],
    ['"2500us"', 3],
    ['"10min"', 600000],
    ['"0.1h"', 360000],
    ['"3S"', 3000],
    ['"250"', 250],
    ['1500', 1500],
    ['2.5e3', 2500],
  ])('reads lock_timeout = %s', (value, ms) => {
    expect(prod(`lock_timeout = ${value}`).lockTimeoutMs).toBe(ms);
  });

  const expected =
    'expected a duration above 0 and up to 10min, such as "3s", "500ms" or a number of milliseconds';

  it.each(['"0"', '0', '"0s"', '"100us"', '"-1s"', '"11min"', '"1h"', '"3 sec"', '"s"', 'true', '600001'])(
    'refuses lock_timeout = %s',
    (value) => {
      expect(prodProblems(`lock_timeout = ${value}`)).toEqual([
        `connections.prod.lock_timeout: ${expected}, got ${value}`,
      ]);
    },
  );
});

describe('schemas and tables', () => {
  it('reads quoted parts, doubled quotes and folds unquoted names to lower case', () => {
    const c = prod(`tables = ['public."MixedCase"', '"with""quote".t', 'Sch.Tab', '"a.b"."c d"']`);
    expect(c.tables).toEqual([
      { schema: 'public', name: 'MixedCase' },
      { schema: 'with"quote', name: 't' },
      { schema: 'sch', name: 'tab' },
      { schema: 'a.b', name: 'c d' },
    ]);
  });

  it('keeps schema names as written', () => {
    expect(prod(`schemas = ["public", "Sales"]`).schemas).toEqual(['public', 'Sales']);
  });

  it('reports every bad table entry, naming the connection and the entry', () => {
    expect(prodProblems(`tables = ['orders', 'public."open', 'a.b.c', 'ok.fine']`)).toEqual([
      'connections.prod.tables: "orders" must be written as schema.table',
      'connections.prod.tables: unterminated quoted identifier in "public."open"',
      'connections.prod.tables: "a.b.c" must be written as schema.table',
    ]);
  });

  it.each([
    ['schemas = "public"', 'connections.prod.schemas: expected a list of schema names, got "public"'],
    ['schemas = ["public", 5]', 'connections.prod.schemas: expected a list of schema names, got ["public", 5]'],
    ['schemas = [""]', 'connections.prod.schemas: expected a list of schema names, got [""]'],
    ['tables = "public.t"', 'connections.prod.tables: expected a list of "schema.table" names, got "public.t"'],
    ['tables = [{ a = 1 }]', 'connections.prod.tables: expected a list of "schema.table" names, got a list'],
  ])('refuses %s', (line, problem) => {
    expect(prodProblems(line)).toEqual([problem]);
  });
});

describe('indexes (repack_indexes)', () => {
  it('reads "schema.index" names like tables', () => {
    expect(prod(`indexes = ['sales."Orders_pkey"', '"with""quote"."I x"']`).indexes).toEqual([
      { schema: 'sales', name: 'Orders_pkey' },
      { schema: 'with"quote', name: 'I x' },
    ]);
    expect(prod('').indexes).toEqual([]);
  });

  it('reports bad entries together with the other problems', () => {
    expect(prodProblems(`indexes = ['orders_pkey', 'a.b']\nswap_attempts = 0`)).toEqual([
      'connections.prod.swap_attempts: expected an integer from 1 to 100, got 0',
      'connections.prod.indexes: "orders_pkey" must be written as schema.table',
    ]);
    expect(prodProblems('indexes = "public.i"')).toEqual(['connections.prod.indexes: expected a list of "schema.index" names, got "public.i"']);
  });
});

describe('paths', () => {
  it('expands a leading ~ to the home directory in pid_dir, log_dir and sslrootcert', () => {
    const config = parse(`
pid_dir = "~"
[logging]
log_dir = "~/var/log/rpcl"
[connections.prod]
sslmode = "verify-full"
sslrootcert = "~/.postgresql/root.crt"
`);
    expect(config.pidDir).toBe('/home/dba');
    expect(config.logging.logDir).toBe('/home/dba/var/log/rpcl');
    expect(config.connections[0]!.sslrootcert).toBe('/home/dba/.postgresql/root.crt');
  });

  it('leaves other paths alone', () => {
    const config = parse('pid_dir = "/run/rpcl"\n[logging]\nlog_dir = "~other/logs"\n[connections.p]\n');
    expect([config.pidDir, config.logging.logDir]).toEqual(['/run/rpcl', '~other/logs']);
  });
});

describe('email', () => {
  const connection = '[connections.p]\n';

  it('accepts one address as a one-entry list and defaults the port by TLS mode', () => {
    const text = `[notifier]\nenable_email = "on"\n[notifier.email]\nmailfrom = "rpcl@db"\nmailto = "dba@db"\nsmtp_server = "mx"\nsmtp_ssl = "tls"\n${connection}`;
    expect(parse(text).notifier).toStrictEqual({
      enableEmail: true,
      email: { mailfrom: 'rpcl@db', mailto: ['dba@db'], smtpServer: 'mx', smtpPort: 465, smtpSsl: 'tls' },
    });
  });

  it('names every missing required key when email is enabled', () => {
    const text = `[notifier]\nenable_email = "yes"\n[notifier.email]\nmailfrom = "rpcl@db"\nmailto = []\n${connection}`;
    expect(problemsOf(text)).toEqual([
      'notifier.email.mailto: required when notifier.enable_email is true',
      'notifier.email.smtp_server: required when notifier.enable_email is true',
    ]);
  });

  it('asks for the section when email is enabled without one', () => {
    expect(problemsOf(`[notifier]\nenable_email = true\n${connection}`)).toEqual([
      'notifier.email: required when notifier.enable_email is true: add a [notifier.email] section with mailfrom, mailto and smtp_server',
    ]);
  });

  it('does not report a key twice when it is present with a wrong type', () => {
    const text = `[notifier]\nenable_email = true\n[notifier.email]\nmailfrom = "a@b"\nmailto = "c@d"\nsmtp_server = 25\n${connection}`;
    expect(problemsOf(text)).toEqual(['notifier.email.smtp_server: expected a string, got 25']);
  });

  it('leaves an incomplete section unused when email is disabled, but still checks it', () => {
    expect(parse(`[notifier.email]\nmailfrom = "a@b"\n${connection}`).notifier).toStrictEqual({
      enableEmail: false,
    });
    expect(problemsOf(`[notifier.email]\nsmtp_port = "x"\nsmtp_sever = "mx"\n${connection}`)).toEqual([
      'notifier.email.smtp_port: expected an integer from 1 to 65535, got "x"',
      'unknown key "notifier.email.smtp_sever" (did you mean "smtp_server"?)',
    ]);
  });
});

describe('unknown keys', () => {
  it.each([
    ['[connections.prod]\nlock_timout = "3s"\n', 'unknown key "connections.prod.lock_timout" (did you mean "lock_timeout"?)'],
    ['[connections.prod]\nlock_timeuot = "3s"\n', 'unknown key "connections.prod.lock_timeuot" (did you mean "lock_timeout"?)'],
    ['[connections.prod]\nPort = 5432\n', 'unknown key "connections.prod.Port" (did you mean "port"?)'],
    ['[connections.prod]\nfillfactor = 70\n', 'unknown key "connections.prod.fillfactor"'],
    ['pidfile = "x"\n[connections.p]\n', 'unknown key "pidfile"'],
    ['piddir = "x"\n[connections.p]\n', 'unknown key "piddir" (did you mean "pid_dir"?)'],
    ['[loging]\n[connections.p]\n', 'unknown key "loging" (did you mean "logging"?)'],
    ['[logging]\nloglevel = "info"\n[connections.p]\n', 'unknown key "logging.loglevel" (did you mean "log_level"?)'],
    ['[notifier]\nenable_mail = true\n[connections.p]\n', 'unknown key "notifier.enable_mail" (did you mean "enable_email"?)'],
    ['[notifier.mail]\n[connections.p]\n', 'unknown key "notifier.mail" (did you mean "email"?)'],
    ['[connections."my db"]\nhots = "x"\n', 'unknown key "connections."my db".hots" (did you mean "host"?)'],
  ])('names the key in %j', (text, problem) => {
    expect(problemsOf(text)).toEqual([problem]);
  });

  it('measures distance with a swap of neighbours as one edit', () => {
    expect(editDistance('lock_timout', 'lock_timeout')).toBe(1);
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});

describe('containers of the wrong type', () => {
  it.each([
    ['logging = 5\n[connections.p]\n', 'logging: expected a table ([logging] section), got 5'],
    ['notifier = "yes"\n[connections.p]\n', 'notifier: expected a table ([notifier] section), got "yes"'],
    ['notifier = { email = [1] }\n[connections.p]\n', 'notifier.email: expected a table ([notifier.email] section), got [1]'],
    ['connections = 5\n', 'connections: expected a table ([connections] section), got 5'],
    ['[connections]\nprod = "db1"\n', 'connections.prod: expected a table ([connections.prod] section), got "db1"'],
    ['pid_dir = ["a"]\n[connections.p]\n', 'pid_dir: expected a string, got ["a"]'],
    ['pid_dir = 1979-05-27\n[connections.p]\n', 'pid_dir: expected a string, got a date/time'],
    ['[connections.p]\nhost = { name = "x" }\n', 'connections.p.host: expected a string, got a table'],
  ])('reports %j', (text, problem) => {
    expect(problemsOf(text)).toEqual([problem]);
  });
});

describe('no connection', () => {
  it.each(['', '# nothing\n', '[connections]\n', 'pid_dir = "/tmp"\n[logging]\n'])(
    'is a problem in %j',
    (text) => {
      expect(problemsOf(text)).toEqual([
        'no [connections.NAME] section: add one, see config-example.toml',
      ]);
    },
  );
});

describe('malformed TOML', () => {
  it('gives the line and column, 1-based, and asks for a syntax fix', () => {
    expect(problemsOf('pid_dir = "/tmp"\n[connections.prod]\nport = \n')).toEqual([
      'invalid TOML at line 3, column 8 (Unexpected character, expecting string, number, datetime, boolean, inline array or inline table): fix the TOML syntax',
    ]);
  });

  it('renders through ConfigError with the file name', () => {
    expect(() => parse('[connections.prod]\n[connections.prod]\n')).toThrow(
      new ConfigError(FILE, [
        "invalid TOML at line 2, column 18 (Can't redefine existing key): fix the TOML syntax",
      ]),
    );
    expect(() => parse('[connections.prod]\n[connections.prod]\n')).toThrow(
      `configuration error in ${FILE}: invalid TOML at line 2, column 18 (Can't redefine existing key): fix the TOML syntax`,
    );
  });

  it('does not quote the offending line, which may hold a password', () => {
    const problems = problemsOf('[connections.prod]\npassword = "s3cr3t-pw\nport = 5432\n');
    expect(problems).toEqual([
      'invalid TOML at line 2, column 22 (Unterminated string): fix the TOML syntax',
    ]);
  });

  it('ignores a byte order mark', () => {
    expect(parse('\uFEFF[connections.prod]\n').connections).toHaveLength(1);
  });
});

describe('several problems at once', () => {
  it('lists all of them, in file order within each section', () => {
    const text = `
pid_dir = 5
verbose = true
[logging]
log_level = "loud"
[notifier]
enable_email = "perhaps"
[connections.a]
port = "abc"
lock_timeout = "3 sec"
schemas = "public"
[connections.b]
analyze_tables = "maybe"
tables = ["nodot"]
`;
    const expected = [
      'pid_dir: expected a string, got 5',
      'unknown key "verbose"',
      'logging.log_level: expected debug, info, warning or error, got "loud"',
      'notifier.enable_email: expected a boolean (true/false, yes/no, on/off, 1/0), got "perhaps"',
      'connections.a.port: expected an integer from 1 to 65535, got "abc"',
      `connections.a.lock_timeout: expected a duration above 0 and up to 10min, such as "3s", "500ms" or a number of milliseconds, got "3 sec"`,
      'connections.a.schemas: expected a list of schema names, got "public"',
      'connections.b.analyze_tables: expected a boolean (true/false, yes/no, on/off, 1/0), got "maybe"',
      'connections.b.tables: "nodot" must be written as schema.table',
    ];
    expect(problemsOf(text)).toEqual(expected);
    expect(() => parse(text)).toThrow(
      `9 configuration errors in ${FILE}:\n${expected.map((p) => `  - ${p}`).join('\n')}`,
    );
  });
});

describe('passwords', () => {
  it.each([
    ['[connections.prod]\npassword = 123456789\n', 'connections.prod.password: expected a string, got an integer', '123456789'],
    ['[connections.prod]\npassword = 3.14159\n', 'connections.prod.password: expected a string, got a number', '3.14159'],
    ['[connections.prod]\npassword = ["hunter2"]\n', 'connections.prod.password: expected a string, got a list', 'hunter2'],
    ['[connections.prod]\npassword = false\n', 'connections.prod.password: expected a string, got a boolean', 'false'],
    ['[notifier.email]\nsmtp_password = ["mail-pw"]\n[connections.p]\n', 'notifier.email.smtp_password: expected a string, got a list', 'mail-pw'],
  ])('are never echoed: %j', (text, problem, secret) => {
    expect(problemsOf(text)).toEqual([problem]);
    expect(() => parse(text)).toThrow(expect.objectContaining({ message: expect.not.stringContaining(secret) }));
  });

  it('are not echoed under a misspelt key either', () => {
    const problems = problemsOf('[connections.prod]\npasword = "hunter2"\n');
    expect(problems).toEqual(['unknown key "connections.prod.pasword" (did you mean "password"?)']);
  });
});

describe('readConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rpcl-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads and parses a file', () => {
    const file = join(dir, 'ops.toml');
    writeFileSync(file, '[connections.prod]\nport = "5433"\n');
    const config = readConfigFile(file, 'ops', HOME);
    expect([config.name, config.file, config.connections[0]!.port]).toEqual(['ops', file, 5433]);
  });

  it('says how to create a missing file', () => {
    const file = join(dir, 'absent.toml');
    expect(() => readConfigFile(file, 'absent', HOME)).toThrow(
      new ConfigError(file, [
        'file not found: create it, e.g. by copying /home/dba/.repcloud/config/config-example.toml',
      ]),
    );
  });

  it('refuses a directory', () => {
    expect(() => readConfigFile(dir, 'x', HOME)).toThrow(
      new ConfigError(dir, ['this is a directory: give the path of a .toml file']),
    );
  });
});
