/**
 * Turns one raw TOML value into a typed value, or says what was expected instead.
 *
 * repcloud wrote numbers and booleans as strings (`port = "5432"`, `analyze_tables = "yes"`),
 * so every coercer accepts the string spelling as well as the native TOML type. A coercer
 * never builds the problem text itself: the caller adds the key path and decides whether the
 * offending value may be shown (it must not be for secrets).
 */

export type Coerced<T> = { ok: true; value: T } | { ok: false; expected: string };
export type Coercer<T> = (raw: unknown) => Coerced<T>;

export function ok<T>(value: T): Coerced<T> {
  return { ok: true, value };
}

export function fail(expected: string): Coerced<never> {
  return { ok: false, expected };
}

/** A string; the empty string means "not set", as an empty value does in a libpq conninfo. */
export const text: Coercer<string | undefined> = (raw) =>
  typeof raw === 'string' ? ok(raw === '' ? undefined : raw) : fail('a string');

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/** The boolean a TOML boolean, 0/1 or a yes/no word stands for; undefined if none. */
export function booleanOf(raw: unknown): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  if (raw === 0 || raw === 1) return raw === 1;
  if (typeof raw !== 'string') return undefined;
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

export const boolean: Coercer<boolean> = (raw) => {
  const value = booleanOf(raw);
  return value === undefined ? fail('a boolean (true/false, yes/no, on/off, 1/0)') : ok(value);
};

/** A finite number from a TOML number or a decimal string; undefined if neither. */
export function numberOf(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw !== 'string') return undefined;
  const s = raw.trim();
  return /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : undefined;
}

/** An integer in [min, max]; max defaults to the largest integer a JS number holds exactly. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): Coercer<number> {
  const expected =
    max === Number.MAX_SAFE_INTEGER
      ? `an integer >= ${min}`
      : `an integer from ${min} to ${max}`;
  return (raw) => {
    const n = numberOf(raw);
    return n !== undefined && Number.isInteger(n) && n >= min && n <= max ? ok(n) : fail(expected);
  };
}

/** A number (fractions allowed) of at least min. */
export function numberAtLeast(min: number, unit: string): Coercer<number> {
  return (raw) => {
    const n = numberOf(raw);
    return n !== undefined && n >= min ? ok(n) : fail(`a number of ${unit} >= ${min}`);
  };
}

/** A number (fractions allowed) in [min, max]. */
export function numberBetween(min: number, max: number, unit: string): Coercer<number> {
  return (raw) => {
    const n = numberOf(raw);
    return n !== undefined && n >= min && n <= max ? ok(n) : fail(`a number of ${unit} from ${min} to ${max}`);
  };
}

/**
 * One of a fixed set of words, case-insensitive. Aliases map extra spellings to a canonical
 * value; only the canonical values are listed in the problem, to keep it short.
 */
export function oneOf<const V extends string>(
  values: readonly V[],
  aliases: Readonly<Record<string, V>> = {},
): Coercer<V> {
  const expected = listWords(values);
  return (raw) => {
    if (typeof raw !== 'string') return fail(expected);
    const word = raw.trim().toLowerCase();
    const value = values.find((v) => v === word) ?? aliases[word];
    return value === undefined ? fail(expected) : ok(value);
  };
}

/** `a, b or c`. */
export function listWords(words: readonly string[]): string {
  return words.length < 2
    ? words.join('')
    : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

/** A list of non-empty strings; with `single`, one bare string is read as a one-entry list. */
export function stringList(expected: string, single = false): Coercer<string[]> {
  return (raw) => {
    if (single && typeof raw === 'string') return raw === '' ? ok([]) : ok([raw]);
    if (!Array.isArray(raw)) return fail(expected);
    const strings = raw.filter((e): e is string => typeof e === 'string' && e !== '');
    return strings.length === raw.length ? ok(strings) : fail(expected);
  };
}
