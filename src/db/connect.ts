/**
 * Opens sessions for a configured connection. Absent keys fall back the way libpq does:
 * PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSWORD (read by pg itself), then ~/.pgpass (pg reads it
 * through the pgpass module when no password is known). sslmode has libpq's six meanings.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { ConnectionConfig, SslMode } from '../config/types.js';
import { ConnectionError } from '../errors.js';
import { SqlState, sqlStateOf } from './sqlstate.js';

/** Startup settings of every rpcl session. */
export const SESSION_OPTIONS = '-c row_security=off';

export interface ConnectOptions {
  applicationName?: string;
  home: string;
  connectTimeoutMs?: number;
}

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

export async function connect(conn: ConnectionConfig, opts: ConnectOptions): Promise<pg.Client> {
  const endpoint = endpointOf(conn);
  const mode = conn.sslmode ?? (process.env.PGSSLMODE as SslMode | undefined) ?? 'prefer';
  const defaultRoot = join(opts.home, '.postgresql', 'root.crt');
  const rootCert =
    conn.sslrootcert ?? process.env.PGSSLROOTCERT ?? (existsSync(defaultRoot) ? defaultRoot : undefined);
  const attempts = sslAttempts(mode, rootCert, endpoint.host);
  let lastError: unknown;
  for (const ssl of attempts) {
    const client = new pg.Client({
      host: endpoint.host,
      port: endpoint.port,
      user: endpoint.user,
      database: endpoint.database,
      password: conn.password,
      ssl,
      application_name: opts.applicationName ?? 'rpcl',
      // Never read through a filter (design notes, invariant 9): with row_security off, a
      // query that a policy would filter raises an error instead of returning fewer rows.
      options: SESSION_OPTIONS,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
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
  throw connectionError(lastError, endpoint, mode);
}

/** allow/prefer fall back to the other mode only when SSL itself was the problem. */
function isSslNegotiationFailure(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return (
    /does not support SSL/i.test(message) ||
    (sqlStateOf(err) === SqlState.invalidAuthorization && /no encryption|SSL off/i.test(message))
  );
}

function connectionError(err: unknown, e: Endpoint, mode: SslMode): ConnectionError {
  const where = `cannot connect to PostgreSQL (${describeEndpoint(e)}, sslmode ${mode})`;
  const state = sqlStateOf(err);
  const code = (err as { code?: string } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (state === SqlState.invalidPassword) {
    return new ConnectionError(
      `${where}: password authentication failed. Check the connection's user and password, ` +
        'PGPASSWORD or ~/.pgpass.',
    );
  }
  if (state === SqlState.invalidCatalogName) {
    return new ConnectionError(`${where}: the database does not exist. Check the connection's database key.`);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') {
    return new ConnectionError(
      `${where}: server unreachable (${code}). Check host and port, and that the server accepts TCP connections.`,
    );
  }
  if (/timeout/i.test(message)) {
    return new ConnectionError(`${where}: connection timed out. Check host, port and firewalls.`);
  }
  return new ConnectionError(`${where}: ${message}`);
}
