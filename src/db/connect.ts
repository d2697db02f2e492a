/**
 * Opens sessions for a configured connection. Absent keys fall back the way libpq does:
 * PGHOST/PGPORT/PGUSER/PGDATABASE, then for the password PGPASSWORD and the password file
 * (PGPASSFILE or ~/.pgpass, read by src/db/pgpass.ts: pg's own pgpass lookup is deprecated and
 * prints a DeprecationWarning, so pg is always handed the password, or told there is none).
 * The connect timeout is the connection's connect_timeout, else PGCONNECT_TIMEOUT, else 10 s.
 * sslmode has libpq's six meanings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { ConnectionConfig, SslMode } from '../config/types.js';
import { ConnectionError, ExitCode, RpclError } from '../errors.js';
import { lookupPgpass, pgpassLineFor, type PgpassLookup } from './pgpass.js';
import { SqlState, sqlStateOf } from './sqlstate.js';

/** Startup settings of every rpcl session. */
export const SESSION_OPTIONS = '-c row_security=off';

export interface ConnectOptions {
  applicationName?: string;
  home: string;
  /** Used when neither the connection's connect_timeout nor PGCONNECT_TIMEOUT is set. */
  connectTimeoutMs?: number;
}

/** rpcl's connect timeout when nothing sets one (libpq would wait forever). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

type SslSetting = false | ConnectionOptions;

/** The SSL attempts libpq would make for a mode, in order. */
export function sslAttempts(mode: SslMode, rootCert: string | undefined, host: string): SslSetting[] {
  const noVerify: ConnectionOptions = { rejectUnauthorized: false };
  const verifyCa = (): ConnectionOptions => ({
    ca: readRootCert(rootCert),
    rejectUnauthorized: true,
    // verify-ca checks the chain but not the host name.
    checkServerIdentity: () => undefined,
  });
  switch (mode) {
    case 'disable':
      return [false];
    case 'allow':
      return [false, noVerify];
    case 'prefer':
      return [noVerify, false];
    case 'require':
      // libpq: require with a root certificate present behaves like verify-ca.
      return [rootCert !== undefined && existsSync(rootCert) ? verifyCa() : noVerify];
    case 'verify-ca':
      return [verifyCa()];
    case 'verify-full':
      return [{ ca: readRootCert(rootCert), rejectUnauthorized: true, servername: host }];
  }
}

function readRootCert(path: string | undefined): string {
  if (path === undefined) {
    throw new ConnectionError(
      'sslmode verify-ca/verify-full needs a root certificate: set sslrootcert in the connection ' +
        "(for example your cloud provider's CA bundle) or place it at ~/.postgresql/root.crt",
    );
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConnectionError(`cannot read sslrootcert ${path}: ${(err as Error).message}`);
  }
}

export interface Endpoint {
  host: string;
  port: number;
  user: string;
  database: string;
}

/** Where a connection will go, after libpq's environment fallbacks, for messages. */
export function endpointOf(conn: ConnectionConfig): Endpoint {
  const env = process.env;
  const user = conn.user ?? env.PGUSER ?? env.USER ?? 'postgres';
  return {
    host: conn.host ?? env.PGHOST ?? 'localhost',
    port: conn.port ?? (env.PGPORT ? Number(env.PGPORT) : 5432),
    user,
    database: conn.database ?? env.PGDATABASE ?? user,
  };
}

export function describeEndpoint(e: Endpoint): string {
  return `host ${e.host}, port ${e.port}, user ${e.user}, database ${e.database}`;
}

/** How long a connection attempt may take, and which setting said so (for messages). */
export interface ConnectTimeout {
  /** 0: no limit. */
  ms: number;
  source: string;
}

/**
 * connect_timeout of the connection, else PGCONNECT_TIMEOUT, else the caller's or rpcl's
 * default. As in libpq, 0 (or a negative PGCONNECT_TIMEOUT) means no limit.
 */
export function connectTimeoutOf(
  conn: ConnectionConfig,
  fallbackMs = DEFAULT_CONNECT_TIMEOUT_MS,
  env: NodeJS.ProcessEnv = process.env,
): ConnectTimeout {
  if (conn.connectTimeoutSeconds !== undefined) {
    return {
      ms: Math.round(conn.connectTimeoutSeconds * 1000),
      source: `connect_timeout = ${conn.connectTimeoutSeconds} in [connections.${conn.name}]`,
    };
  }
  const raw = env.PGCONNECT_TIMEOUT?.trim();
  if (raw) {
    const seconds = /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(seconds)) {
      throw new RpclError(
        `PGCONNECT_TIMEOUT=${JSON.stringify(env.PGCONNECT_TIMEOUT)} is not a number of seconds: ` +
          `fix or unset it, or set connect_timeout in [connections.${conn.name}]`,
        ExitCode.config,
      );
    }
    return { ms: Math.max(0, Math.round(seconds * 1000)), source: `PGCONNECT_TIMEOUT=${raw}` };
  }
  return {
    ms: fallbackMs,
    source: `rpcl's default; set connect_timeout in [connections.${conn.name}] or PGCONNECT_TIMEOUT to change it`,
  };
}

/** Where the password comes from, resolved only when the server asks for one. */
export type PasswordSource =
  | { kind: 'config'; password: string }
  | { kind: 'env'; password: string }
  | { kind: 'pgpass'; password: string; file: string; line: number }
  | { kind: 'none'; pgpass: PgpassLookup };

/** libpq's order: the connection's password, PGPASSWORD, then the password file. */
export function resolvePassword(
  conn: ConnectionConfig,
  endpoint: Endpoint,
  home: string,
  env: NodeJS.ProcessEnv = process.env,
): PasswordSource {
  if (conn.password) return { kind: 'config', password: conn.password };
  if (env.PGPASSWORD) return { kind: 'env', password: env.PGPASSWORD };
  const lookup = lookupPgpass(endpoint, home, env);
  if (lookup.ignored !== undefined) warnIgnoredPgpass(lookup);
  if (lookup.match && lookup.match.password !== '') {
    return { kind: 'pgpass', password: lookup.match.password, file: lookup.file, line: lookup.match.line };
  }
  return { kind: 'none', pgpass: lookup };
}

const warnedPgpass = new Set<string>();

/** libpq warns on stderr about a password file it ignores; once per file and process. */
function warnIgnoredPgpass(lookup: PgpassLookup): void {
  if (warnedPgpass.has(lookup.file)) return;
  warnedPgpass.add(lookup.file);
  process.stderr.write(`rpcl: warning: password file "${lookup.file}" is ignored: ${lookup.ignored}\n`);
}

/** Thrown from pg's password callback when the server asks for a password and none is set. */
class MissingPasswordError extends Error {
  constructor(readonly pgpass: PgpassLookup) {
    super('no password');
  }
}

export async function connect(conn: ConnectionConfig, opts: ConnectOptions): Promise<pg.Client> {
  const endpoint = endpointOf(conn);
  const mode = conn.sslmode ?? (process.env.PGSSLMODE as SslMode | undefined) ?? 'prefer';
  const timeout = connectTimeoutOf(conn, opts.connectTimeoutMs);
  const defaultRoot = join(opts.home, '.postgresql', 'root.crt');
  const rootCert =
    conn.sslrootcert ?? process.env.PGSSLROOTCERT ?? (existsSync(defaultRoot) ? defaultRoot : undefined);
  const attempts = sslAttempts(mode, rootCert, endpoint.host);
  let source: PasswordSource | undefined;
  // pg calls this only when the server asks for a password; a function (unlike an absent
  // password) keeps pg away from its deprecated pgpass lookup.
  const password = (): string => {
    source ??= resolvePassword(conn, endpoint, opts.home);
    if (source.kind === 'none') throw new MissingPasswordError(source.pgpass);
    return source.password;
  };
  let lastError: unknown;
  for (const ssl of attempts) {
    const client = new pg.Client({
      host: endpoint.host,
      port: endpoint.port,
      user: endpoint.user,
      database: endpoint.database,
      password,
      ssl,
      application_name: opts.applicationName ?? 'rpcl',
      // Never read through a filter (design notes, invariant 9): with row_security off, a
      // query that a policy would filter raises an error instead of returning fewer rows.
      options: SESSION_OPTIONS,
      connectionTimeoutMillis: timeout.ms,
    });
    // An idle session that loses its server must not crash the process with an
    // unhandled 'error' event; the next query on it reports the failure.
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      lastError = err;
      await client.end().catch(() => undefined);
      if (!isSslNegotiationFailure(err)) break;
    }
  }
  throw connectionError(lastError, { conn, endpoint, mode, timeout, source });
}

/** allow/prefer fall back to the other mode only when SSL itself was the problem. */
function isSslNegotiationFailure(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return (
    /does not support SSL/i.test(message) ||
    (sqlStateOf(err) === SqlState.invalidAuthorization && /no encryption|SSL off/i.test(message))
  );
}

interface FailedAttempt {
  conn: ConnectionConfig;
  endpoint: Endpoint;
  mode: SslMode;
  timeout: ConnectTimeout;
  source: PasswordSource | undefined;
}

function describeSource(s: PasswordSource | undefined, connName: string): string {
  switch (s?.kind) {
    case 'config':
      return `the password set in [connections.${connName}]`;
    case 'env':
      return 'the password in PGPASSWORD';
    case 'pgpass':
      return `the password from ${s.file} line ${s.line}`;
    default:
      return 'the password';
  }
}

function missingPassword(where: string, a: FailedAttempt, pgpass: PgpassLookup): ConnectionError {
  const line = pgpassLineFor(a.endpoint);
  let state: string;
  if (pgpass.ignored !== undefined) state = `${pgpass.file} is ignored: ${pgpass.ignored}`;
  else if (pgpass.match) state = `line ${pgpass.match.line} of ${pgpass.file} matches but its password is empty`;
  else if (pgpass.read) state = `no line of ${pgpass.file} matches`;
  else state = `${pgpass.file} does not exist`;
  return new ConnectionError(
    `${where}: the server asks for a password and none is set. Add one of:\n` +
      `  - password = "..." in [connections.${a.conn.name}] of the config file\n` +
      '  - the environment variable PGPASSWORD\n' +
      `  - a line host:port:database:user:password in ${pgpass.file} (mode 0600; \`*\` matches anything): ${line}\n` +
      `    (${state})`,
  );
}

function connectionError(err: unknown, a: FailedAttempt): RpclError {
  const where =
    `cannot connect to PostgreSQL for connection "${a.conn.name}" ` +
    `(${describeEndpoint(a.endpoint)}, sslmode ${a.mode})`;
  if (err instanceof MissingPasswordError) return missingPassword(where, a, err.pgpass);
  if (err instanceof RpclError) return err;
  const state = sqlStateOf(err);
  const code = (err as { code?: string } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (state === SqlState.invalidPassword) {
    return new ConnectionError(
      `${where}: password authentication failed with ${describeSource(a.source, a.conn.name)}. ` +
        "Check the connection's user and password, PGPASSWORD or ~/.pgpass.",
    );
  }
  if (state === SqlState.invalidCatalogName) {
    return new ConnectionError(`${where}: the database does not exist. Check the connection's database key.`);
  }
  if (
    code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' ||
    code === 'EAI_AGAIN' || code === 'ETIMEDOUT'
  ) {
    return new ConnectionError(
      `${where}: server unreachable (${code}). Check host and port, and that the server accepts TCP connections.`,
    );
  }
  if (/timeout expired|timed? ?out/i.test(message)) {
    return new ConnectionError(
      `${where}: connection timed out: no answer within ${a.timeout.ms / 1000} s (${a.timeout.source}). ` +
        'Check host, port and firewalls.',
    );
  }
  return new ConnectionError(`${where}: ${message}`);
}
