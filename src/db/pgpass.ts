/**
 * The password file, read the way libpq reads it (PostgreSQL docs, "The Password File"), so
 * that the pg driver's own, deprecated pgpass lookup is never used:
 *
 * - the file is PGPASSFILE if set, else ~/.pgpass; a missing file is silently ignored;
 * - a file that is not a plain file, or that grants any access to group or others, is ignored
 *   with a warning (libpq's wording: "permissions should be u=rw (0600) or less");
 * - each line is `hostname:port:database:username:password`; a line starting with `#` is a
 *   comment; `\:` and `\\` stand for `:` and `\`; a field that is exactly `*` matches anything;
 * - the first line whose four fields match wins (even if its password is empty: libpq then
 *   has no password);
 * - the host is the connection's host; no host, or a Unix socket in the default socket
 *   directory, is matched as `localhost`.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface PgpassTarget {
  host: string;
  port: number | string;
  database: string;
  user: string;
}

/** libpq's DEFAULT_PGSOCKET_DIR: /tmp upstream, /var/run/postgresql in Debian's and Red Hat's builds. */
const DEFAULT_SOCKET_DIRS = new Set(['/tmp', '/var/run/postgresql', '/run/postgresql']);

/** The host name a pgpass line is matched against. */
export function pgpassHost(host: string | undefined): string {
  if (host === undefined || host === '') return 'localhost';
  if (host.startsWith('/') && DEFAULT_SOCKET_DIRS.has(host.replace(/\/+$/, ''))) return 'localhost';
  return host;
}

/**
 * libpq's pwdfMatchesString: does the field at the start of `rest` match `token`? Returns the
 * text after the field's `:` when it does, undefined when it does not.
 */
function matchField(rest: string, token: string): string | undefined {
  if (rest.startsWith('*:')) return rest.slice(2);
  let i = 0;
  let t = 0;
  while (i < rest.length) {
    let escaped = false;
    if (rest[i] === '\\') {
      i++;
      escaped = true;
      if (i >= rest.length) return undefined;
    }
    if (rest[i] === ':' && !escaped && t === token.length) return rest.slice(i + 1);
    if (t === token.length || rest[i] !== token[t]) return undefined;
    i++;
    t++;
  }
  return undefined;
}

/** The password field: up to the first unescaped `:`, with `\x` read as `x`. */
function unescapePassword(field: string): string {
  let out = '';
  for (let i = 0; i < field.length; i++) {
    let c = field[i]!;
    if (c === ':') break;
    if (c === '\\' && i + 1 < field.length) c = field[++i]!;
    out += c;
  }
  return out;
}

export interface PgpassMatch {
  /** 1-based line number of the matching line. */
  line: number;
  /** May be empty: libpq then has no password. */
  password: string;
}

/** The first line of a password file's text that matches the target, per libpq's rules. */
export function matchPgpass(text: string, target: PgpassTarget): PgpassMatch | undefined {
  const tokens = [pgpassHost(target.host), String(target.port), target.database, target.user];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.replace(/[\r\n]+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    let rest: string | undefined = line;
    for (const token of tokens) {
      rest = matchField(rest, token);
      if (rest === undefined) break;
    }
    if (rest !== undefined) return { line: n + 1, password: unescapePassword(rest) };
  }
  return undefined;
}

/** A field as it must be written in a password file. */
export function escapePgpassField(value: string): string {
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

/** The line to add for a target, for messages; the password is a placeholder. */
export function pgpassLineFor(target: PgpassTarget, password = 'PASSWORD'): string {
  return [pgpassHost(target.host), String(target.port), target.database, target.user]
    .map(escapePgpassField)
    .concat(password)
    .join(':');
}

/** Which file libpq would read: PGPASSFILE, else ~/.pgpass. */
export function pgpassFile(home: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.PGPASSFILE ? env.PGPASSFILE : join(home, '.pgpass');
}

export interface PgpassLookup {
  file: string;
  /** The file exists and was read (not ignored). */
  read: boolean;
  /** Why an existing file was not used (its mode, not a plain file, unreadable). */
  ignored?: string;
  match?: PgpassMatch;
}

/** Looks the target up in the password file; never throws. */
export function lookupPgpass(target: PgpassTarget, home: string, env: NodeJS.ProcessEnv = process.env): PgpassLookup {
  const file = pgpassFile(home, env);
  let mode: number;
  let plain: boolean;
  try {
    const st = statSync(file);
    mode = st.mode;
    plain = st.isFile();
  } catch {
    return { file, read: false };
  }
  if (!plain) return { file, read: false, ignored: 'it is not a plain file' };
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    return {
      file,
      read: false,
      ignored: `it has group or world access (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); permissions should be u=rw (0600) or less: chmod 0600 ${file}`,
    };
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { file, read: false, ignored: `it cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  const match = matchPgpass(text, target);
  return match ? { file, read: true, match } : { file, read: true };
}
