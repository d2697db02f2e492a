/**
 * Reading one TOML table (a `[section]`) against the keys it may hold, collecting problems
 * instead of stopping at the first, so the user can fix the whole file in one go.
 *
 * Problem texts follow two shapes: `<key path>: expected <what>, got <value>` for a bad
 * value and `unknown key "<key path>"` for a key rpcl does not know.
 */

import type { Coercer } from './coerce.js';
import { closest } from './suggest.js';

export type TomlTable = Record<string, unknown>;

export interface Field<T> {
  read: Coercer<T>;
  /** The value is never shown in a problem, only its kind: it may be a password. */
  secret?: boolean;
}

export type Fields = Record<string, Field<unknown>>;

/** What was read from a section: a key is absent when missing from the file or invalid. */
export type FieldValues<F extends Fields> = {
  [K in keyof F]?: F[K] extends Field<infer T> ? T : never;
};

export function isTable(raw: unknown): raw is TomlTable {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !(raw instanceof Date);
}

/** `parent.key`, quoting the key the way TOML would when it is not a bare key. */
export function keyPath(parent: string, key: string): string {
  const segment = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
  return parent === '' ? segment : `${parent}.${segment}`;
}

/** The table at `path`, undefined if absent; anything else than a table is a problem. */
export function tableAt(raw: unknown, path: string, problems: string[]): TomlTable | undefined {
  if (raw === undefined || isTable(raw)) return raw;
  problems.push(`${path}: expected a table ([${path}] section), got ${show(raw, false)}`);
  return undefined;
}

/**
 * Reads every key of `table` in file order: a field is coerced, a sub-section name is left
 * to the caller, anything else is an unknown key (with the closest known key as a hint).
 */
export function readSection<F extends Fields>(
  table: TomlTable,
  path: string,
  fields: F,
  subsections: readonly string[],
  problems: string[],
): FieldValues<F> {
  const values: Record<string, unknown> = {};
  const known = [...Object.keys(fields), ...subsections];
  for (const [key, raw] of Object.entries(table)) {
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (field) {
      const result = field.read(raw);
      if (result.ok) values[key] = result.value;
      else problems.push(badValue(keyPath(path, key), result.expected, show(raw, !!field.secret)));
    } else if (!subsections.includes(key)) {
      problems.push(unknownKey(keyPath(path, key), closest(key, known)));
    }
  }
  return values as FieldValues<F>;
}

function badValue(path: string, expected: string, shown: string): string {
  return `${path}: expected ${expected}, got ${shown}`;
}

function unknownKey(path: string, suggestion: string | undefined): string {
  const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
  return `unknown key "${path}"${hint}`;
}

/** A raw value as the user wrote it, or only its kind when it must stay hidden. */
export function show(raw: unknown, secret: boolean): string {
  if (secret || isTable(raw) || raw instanceof Date) return kindOf(raw);
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (typeof raw === 'number') return showNumber(raw);
  if (Array.isArray(raw)) {
    const scalars = raw.every((e) => ['string', 'number', 'bigint', 'boolean'].includes(typeof e));
    return scalars ? `[${raw.map((e) => show(e, false)).join(', ')}]` : kindOf(raw);
  }
  return String(raw);
}

function showNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return String(n);
}

function kindOf(raw: unknown): string {
  if (typeof raw === 'string') return 'a string';
  if (typeof raw === 'bigint' || Number.isInteger(raw)) return 'an integer';
  if (typeof raw === 'number') return 'a number';
  if (typeof raw === 'boolean') return 'a boolean';
  if (Array.isArray(raw)) return 'a list';
  if (raw instanceof Date) return 'a date/time';
  return 'a table';
}
