/**
 * rpcl's settings for a benchmark run (--rpcl-keys, and each variant of --rpcl-variants):
 * `key=value` pairs separated by commas, written into the connection section of the config
 * file the bench generates. A value is typed the way TOML would read it unquoted (number,
 * true/false), anything else is a string; a value in double quotes is always a string.
 */

export type TomlValue = string | number | boolean;
/** Insertion-ordered, and a Map so that a key such as `__proto__` is just a key. */
export type RpclKeys = Map<string, TomlValue>;

/** The keys that point rpcl at the bench's server and table: a run that changed them would not be measuring the bench's table. */
const BENCH_OWNED = new Set(['host', 'port', 'user', 'password', 'database', 'schemas', 'tables']);

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
// TOML's decimal integers and floats (underscores between digits, no leading zeros).
const NUMBER = /^[+-]?(0|[1-9](_?\d)*)(\.\d(_?\d)*)?([eE][+-]?\d(_?\d)*)?$/;

function typed(raw: string): TomlValue {
  const quoted = /^"(.*)"$/.exec(raw);
  if (quoted) return quoted[1]!;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (NUMBER.test(raw)) return Number(raw.replaceAll('_', ''));
  return raw;
}

/** Parses `copy_mode=chunked,chunk_time=0.5`; `what` names the option in errors. */
export function parseRpclKeys(text: string, what = '--rpcl-keys'): RpclKeys {
  const keys: RpclKeys = new Map();
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) throw new Error(`${what}: "${pair}" is not key=value`);
    const key = pair.slice(0, eq).trim();
    if (!BARE_KEY.test(key)) throw new Error(`${what}: "${key}" is not a config key (letters, digits, _ and -)`);
    if (BENCH_OWNED.has(key)) throw new Error(`${what}: ${key} is set by the bench (it points rpcl at the bench's server and table)`);
    if (keys.has(key)) throw new Error(`${what}: ${key} is given twice`);
    keys.set(key, typed(pair.slice(eq + 1).trim()));
  }
  return keys;
}

/** A JSON string is a valid TOML basic string: the same quotes and escapes. */
export function tomlValue(v: TomlValue): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** The settings every bench run of rpcl starts from; --rpcl-keys and the variants override them. */
export function benchDefaults(parallel: number): RpclKeys {
  return new Map<string, TomlValue>([
    ['sslmode', 'disable'],
    ['lock_timeout', '1s'],
    ['check_time', 1],
    ['parallel_sessions', parallel],
  ]);
}

/**
 * The bench's config file: one connection, `bench`, on the bench's table (or `table`, for the
 * partitions bench); a key given twice would be a TOML error, so `keys` is the merged set.
 */
export function benchConfigToml(
  conn: { host: string; port: number; user: string; database: string },
  keys: RpclKeys,
  table = 'public.table_for_repack',
): string {
  const lines = [
    '[connections.bench]',
    `host = ${tomlValue(conn.host)}`,
    `port = ${conn.port}`,
    `user = ${tomlValue(conn.user)}`,
    `database = ${tomlValue(conn.database)}`,
    `tables = [${tomlValue(table)}]`,
    ...[...keys].map(([k, v]) => `${k} = ${tomlValue(v)}`),
  ];
  return `${lines.join('\n')}\n`;
}
