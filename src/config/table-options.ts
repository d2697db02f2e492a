/**
 * `[connections.NAME.table_options."schema.table"]`: how one table is rewritten (issue 13).
 *
 * The key is read like an entry of `tables` (parseQualifiedName): unquoted parts fold to lower
 * case, double-quoted parts keep case and dots. In TOML the whole key is one quoted key, so a
 * mixed-case name is easiest as a literal key: `[connections.prod.table_options.'sales."Orders"']`.
 *
 * Nothing here reaches SQL as text: order_by entries are parsed into a column name, a direction
 * and a NULLS placement, and storage parameter names are checked to be plain words (the server
 * validates the values before any work, see inspect/table-options.ts).
 */
import { parseQualifiedName, readQuotedIdent, type QualifiedName } from '../db/ident.js';
import { boolean, integer, stringList, text } from './coerce.js';
import { isTable, keyPath, readSection, show, type TomlTable } from './section.js';

export interface OrderItem {
  column: string;
  descending: boolean;
  /** null: PostgreSQL's default for the direction (NULLS LAST ascending, NULLS FIRST descending). */
  nulls: 'first' | 'last' | null;
}

export interface StorageParameter {
  /** `fillfactor`, or `toast.autovacuum_enabled` for the TOAST table's. */
  name: string;
  /** As PostgreSQL stores it in reloptions (`70`, `true`, `0.02`). */
  value: string;
}

export interface TableOptions {
  table: QualifiedName;
  /** Absent: the CLUSTER index's order when the table has one; []: no order. */
  orderBy?: OrderItem[];
  /** Absent: the table stays where it is. */
  tablespace?: string;
  /** The indexes follow the table into `tablespace` (pg_repack's --moveidx). */
  moveIndexes: boolean;
  /** Set on the new table before its rows go in, and kept after the swap. `fillfactor` folded in. */
  storageParameters: StorageParameter[];
}

export const TABLE_OPTION_FIELDS = {
  order_by: { read: stringList('a list of column names, each optionally followed by ASC or DESC and NULLS FIRST or NULLS LAST') },
  tablespace: { read: text },
  move_indexes: { read: boolean },
  fillfactor: { read: integer(10, 100) },
} as const;

const PARAMETER_NAME = /^(toast\.)?[a-z][a-z0-9_]*$/;

/** Reads `[connections.NAME.table_options]`; every problem goes to `problems`. */
export function readTableOptions(raw: unknown, path: string, problems: string[]): TableOptions[] {
  if (raw === undefined) return [];
  if (!isTable(raw)) {
    problems.push(`${path}: expected a table of "schema.table" sections, got ${show(raw, false)}`);
    return [];
  }
  const out: TableOptions[] = [];
  const seen = new Map<string, string>();
  for (const [key, section] of Object.entries(raw)) {
    const at = keyPath(path, key);
    const table = parseQualifiedName(key);
    if (typeof table === 'string') {
      problems.push(`${at}: ${table}`);
      continue;
    }
    const id = JSON.stringify([table.schema, table.name]);
    if (seen.has(id)) {
      problems.push(`${at}: the same table as ${seen.get(id)}: keep one section per table`);
      continue;
    }
    seen.set(id, at);
    if (!isTable(section)) {
      problems.push(`${at}: expected a table ([${at}] section), got ${show(section, false)}`);
      continue;
    }
    out.push(readOne(table, section, at, problems));
  }
  return out;
}

function readOne(table: QualifiedName, section: TomlTable, at: string, problems: string[]): TableOptions {
  const v = readSection(section, at, TABLE_OPTION_FIELDS, ['storage_parameters'], problems);
  const options: TableOptions = { table, moveIndexes: v.move_indexes ?? false, storageParameters: [] };
  if (v.order_by !== undefined) {
    const items: OrderItem[] = [];
    for (const entry of v.order_by) {
      const item = parseOrderItem(entry);
      if (typeof item === 'string') problems.push(`${keyPath(at, 'order_by')}: ${item}`);
      else if (items.some((i) => i.column === item.column)) problems.push(`${keyPath(at, 'order_by')}: column "${item.column}" is listed twice`);
      else items.push(item);
    }
    options.orderBy = items;
  }
  if (v.tablespace !== undefined) options.tablespace = v.tablespace;
  if (v.move_indexes === true && v.tablespace === undefined) {
    problems.push(`${keyPath(at, 'move_indexes')}: moves the indexes to the table's new tablespace: set tablespace too`);
  }
  const params = readParameters(section.storage_parameters, keyPath(at, 'storage_parameters'), problems);
  if (v.fillfactor !== undefined) {
    if (params.some((p) => p.name === 'fillfactor')) {
      problems.push(`${keyPath(at, 'fillfactor')}: also set in storage_parameters: set it in one place`);
    } else {
      params.unshift({ name: 'fillfactor', value: String(v.fillfactor) });
    }
  }
  options.storageParameters = params;
  return options;
}

function readParameters(raw: unknown, path: string, problems: string[]): StorageParameter[] {
  if (raw === undefined) return [];
  if (!isTable(raw)) {
    problems.push(`${path}: expected an inline table such as { fillfactor = 70 }, got ${show(raw, false)}`);
    return [];
  }
  const params: StorageParameter[] = [];
  const flat = Object.entries(raw).flatMap(([name, value]) =>
    // `toast = { autovacuum_enabled = false }` is what TOML makes of a dotted key `toast.x = ...`.
    name === 'toast' && isTable(value) ? Object.entries(value).map(([n, v]) => [`toast.${n}`, v] as const) : [[name, value] as const],
  );
  for (const [name, value] of flat) {
    const at = keyPath(path, name);
    if (!PARAMETER_NAME.test(name)) {
      problems.push(`${at}: not a storage parameter name (lower-case letters, digits and _, optionally after toast.)`);
      continue;
    }
    if (typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      params.push({ name, value: String(value) });
    } else if (typeof value === 'string' && /^[A-Za-z0-9_.+-]+$/.test(value)) {
      params.push({ name, value });
    } else {
      problems.push(`${at}: expected a number, a boolean or a word, got ${show(value, false)}`);
    }
  }
  return params;
}

/**
 * `"Created At" DESC NULLS LAST`: an identifier as PostgreSQL reads one (unquoted folds to lower
 * case), then optional ASC/DESC and NULLS FIRST/LAST. Returns an error text instead of throwing.
 */
export function parseOrderItem(text: string): OrderItem | string {
  const s = text.trim();
  let column: string;
  let rest: string;
  if (s.startsWith('"')) {
    const quoted = readQuotedIdent(s, 0, text, 'column name');
    if (typeof quoted === 'string') return quoted;
    column = quoted.part;
    rest = s.slice(quoted.next);
  } else {
    const m = /^([\p{L}_][\p{L}\p{N}_$]*)(.*)$/su.exec(s);
    if (!m) return `"${text}" is not a column name: write a column name, in double quotes if it has capitals, spaces or symbols`;
    column = m[1]!.replace(/[A-Z]/g, (c) => c.toLowerCase());
    rest = m[2]!;
  }
  const tail = `"${text}": after the column name only ASC or DESC, then NULLS FIRST or NULLS LAST, may follow (an expression is not supported)`;
  if (rest !== '' && !/^\s/.test(rest)) return tail;
  const words = rest.trim() === '' ? [] : rest.trim().toUpperCase().split(/\s+/);
  let descending = false;
  let nulls: OrderItem['nulls'] = null;
  if (words[0] === 'ASC' || words[0] === 'DESC') descending = words.shift() === 'DESC';
  if (words[0] === 'NULLS' && (words[1] === 'FIRST' || words[1] === 'LAST')) {
    nulls = words[1] === 'FIRST' ? 'first' : 'last';
    words.splice(0, 2);
  }
  if (words.length > 0) return tail;
  return { column, descending, nulls };
}
