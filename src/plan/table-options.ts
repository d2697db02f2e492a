/**
 * A table's options in effect (issue 13), decided from its table_options entry and the server's
 * facts, and the SQL pieces they add to the plan: the copy's ORDER BY, its tablespace and
 * storage parameters, the reloptions the swap leaves. Pure: no database access.
 */
import { createHash } from 'node:crypto';
import type { ConnectionConfig } from '../config/types.js';
import type { OrderItem, StorageParameter, TableOptions } from '../config/table-options.js';
import { displayIdent, displayQualified, quoteIdent, quoteLiteral } from '../db/ident.js';
import type { TableFacts } from '../inspect/facts.js';
import { UNCHECKED, type OptionFacts } from '../inspect/table-options.js';
import { keyColumns } from './capture.js';
import { usesChunkedCopy, type CopyMode } from './copy-mode.js';

export interface EffectiveOptions {
  /** The copy's rows go in in this order; [] for none. */
  order: OrderItem[];
  /** Where the order comes from: `order_by`, `CLUSTER index <name>`, or why there is none. */
  orderSource: string;
  /** The order was asked for by order_by (not the CLUSTER index default). */
  orderExplicit: boolean;
  /** The tablespace the new table goes to; null: where the table is. */
  tablespace: string | null;
  moveIndexes: boolean;
  /** Requested storage parameters, set on the copy before its rows and kept after the swap. */
  storage: StorageParameter[];
}

export const NO_OPTIONS: EffectiveOptions = {
  order: [], orderSource: 'none', orderExplicit: false, tablespace: null, moveIndexes: false, storage: [],
};

/** `table_options."sales.orders"` as the user writes it in TOML (a literal key when the name has double quotes). */
export function optionsKey(t: { schema: string; name: string }): string {
  const d = displayQualified(t);
  return `table_options.${d.includes('"') && !d.includes("'") ? `'${d}'` : JSON.stringify(d)}`;
}

/** The table_options entry for this table, if any (exact schema and name). */
export function optionsEntry(conn: Pick<ConnectionConfig, 'tableOptions'>, t: { schema: string; name: string }): TableOptions | undefined {
  return conn.tableOptions?.find((o) => o.table.schema === t.schema && o.table.name === t.name);
}

/** The options in effect, or a refusal saying what to fix. Nothing has been changed yet. */
export function resolveTableOptions(
  facts: TableFacts,
  entry: TableOptions | undefined,
  of: OptionFacts,
): EffectiveOptions | { refusal: string } {
  const where = optionsKey(facts);
  let order: OrderItem[] = [];
  let orderSource = 'none (no order_by, no CLUSTER index)';
  const orderExplicit = entry?.orderBy !== undefined && entry.orderBy.length > 0;
  if (entry?.orderBy !== undefined) {
    const unknown = entry.orderBy.filter((o) => !facts.columns.some((c) => c.name === o.column));
    if (unknown.length > 0) {
      const names = unknown.map((o) => `"${o.column}"`).join(', ');
      return {
        refusal: `${where}.order_by: ${unknown.length === 1 ? 'column' : 'columns'} ${names} not in the table ` +
          `(it has ${facts.columns.map((c) => displayIdent(c.name)).join(', ')}): fix order_by (double-quote names with capitals)`,
      };
    }
    if (of.orderProblem) {
      return { refusal: `${where}.order_by: the rows cannot be sorted that way (the server says: ${of.orderProblem}): order by other columns` };
    }
    order = entry.orderBy;
    orderSource = order.length > 0 ? 'order_by' : 'none (order_by = [])';
  } else if (of.cluster !== null) {
    if ('unusable' in of.cluster.items) {
      orderSource = `none: the CLUSTER index ${displayIdent(of.cluster.index)} is not used (${of.cluster.items.unusable}); set order_by to order the copy`;
    } else {
      order = of.cluster.items;
      orderSource = `CLUSTER index ${displayIdent(of.cluster.index)}`;
    }
  }
  let tablespace: string | null = null;
  if (entry?.tablespace !== undefined) {
    const ts = of.tablespace;
    if (ts === null || !ts.exists) {
      return { refusal: `${where}.tablespace: tablespace ${displayIdent(entry.tablespace)} does not exist: create it (CREATE TABLESPACE) or fix the name` };
    }
    if (!ts.canCreate) {
      return {
        refusal: `${where}.tablespace: this role may not create tables in tablespace ${displayIdent(ts.name)}: ` +
          `GRANT CREATE ON TABLESPACE ${quoteIdent(ts.name)} TO the role rpcl connects as, or remove tablespace`,
      };
    }
    tablespace = ts.name;
    if (entry.moveIndexes) {
      // ALTER TABLE ... ADD CONSTRAINT rebuilds these from pg_get_constraintdef, which names the
      // index's own tablespace (USING INDEX TABLESPACE): moving them is not done yet.
      const pinned = facts.indexes.find((i) => i.constraint !== null && (i.constraint.type === 'x' || i.definitionTail === null) && i.tablespace !== null);
      if (pinned) {
        return { refusal: `${where}.move_indexes: the index of constraint ${displayIdent(pinned.constraint!.name)} is in tablespace ${displayIdent(pinned.tablespace!)} and rpcl cannot move it yet: move it first (ALTER INDEX ... SET TABLESPACE) or set move_indexes = false` };
      }
    }
  }
  if (of.storageProblem !== null && of.storageProblem.startsWith(UNCHECKED)) {
    return {
      refusal: `${where}: the storage parameters cannot be checked before the run: rpcl tries them on a temporary table and the server says: ` +
        `${of.storageProblem.slice(UNCHECKED.length)}: GRANT TEMPORARY ON DATABASE to the role rpcl connects as`,
    };
  }
  if (of.storageProblem !== null) {
    return { refusal: `${where}: invalid storage parameters (the server says: ${of.storageProblem}): fix storage_parameters or fillfactor` };
  }
  return { order, orderSource, orderExplicit, tablespace, moveIndexes: entry?.moveIndexes ?? false, storage: entry?.storageParameters ?? [] };
}

/** ` ORDER BY "a" DESC NULLS LAST, "b"`, or '' for no order; `alias` is `o.` or ''. */
export function orderByClause(order: OrderItem[], alias = ''): string {
  if (order.length === 0) return '';
  const items = order.map((o) => `${alias}${quoteIdent(o.column)}${o.descending ? ' DESC' : ''}${o.nulls ? ` NULLS ${o.nulls.toUpperCase()}` : ''}`);
  return ` ORDER BY ${items.join(', ')}`;
}

/** The order is the replay key's, ascending: the order a chunked copy inserts in anyway. */
export function isKeyOrder(facts: TableFacts, order: OrderItem[]): boolean {
  if (facts.key === null) return false;
  const key = keyColumns(facts).map((c) => c.name);
  return order.length > 0 && order.length <= key.length && order.every((o, i) => o.column === key[i] && !o.descending && o.nulls === null);
}

export interface CopyChoice {
  chunked: boolean;
  /** The copy's rows go in in the requested order. */
  ordered: boolean;
  /** Said in the dry run and the log when the choice differs from copy_mode alone. */
  note: string | null;
  refusal: string | null;
}

/**
 * An order other than the key's needs the snapshot copy: the chunked copy walks the key.
 * copy_mode "chunked" with an explicit order_by is refused (the user asked for both); "auto"
 * takes the snapshot copy for an explicit order_by. An order nobody asked for (the CLUSTER
 * index's) never turns a chunked copy into one long snapshot: the copy walks the key and says so.
 */
export function chooseCopy(mode: CopyMode, facts: TableFacts, eff: EffectiveOptions): CopyChoice {
  const wouldChunk = usesChunkedCopy(mode, facts.totalBytes);
  if (eff.order.length === 0 || !wouldChunk) return { chunked: wouldChunk, ordered: eff.order.length > 0, note: null, refusal: null };
  if (isKeyOrder(facts, eff.order)) return { chunked: true, ordered: true, note: null, refusal: null };
  if (mode === 'auto' && eff.orderExplicit) {
    return { chunked: false, ordered: true, note: `copy_mode auto: the snapshot copy, because the rows go in ${eff.orderSource} order, not key order`, refusal: null };
  }
  if (eff.orderExplicit) {
    return {
      chunked: true, ordered: false, note: null,
      refusal: `${optionsKey(facts)}.order_by needs the snapshot copy but copy_mode is "chunked" (it copies in key order): ` +
        'set copy_mode = "snapshot" or "auto", or order_by to the key columns, or order_by = []',
    };
  }
  return { chunked: true, ordered: false, note: `copy_mode ${mode} copies in key order: the ${eff.orderSource} order is not applied`, refusal: null };
}

const AUTOVACUUM_OFF = new Set(['autovacuum_enabled', 'toast.autovacuum_enabled']);

/** Storage parameters for the copy's CREATE TABLE, beside autovacuum off (which the copy keeps until the swap). */
export function copyStorageItems(eff: EffectiveOptions): string[] {
  return eff.storage.filter((p) => !AUTOVACUUM_OFF.has(p.name)).map(storageItem);
}

function storageItem(p: StorageParameter): string {
  const dot = p.name.startsWith('toast.') ? 'toast.' : '';
  return `${dot}${quoteIdent(p.name.slice(dot.length))} = ${quoteLiteral(p.value)}`;
}

/** The original reloptions with the requested ones over them: what the swap leaves on the table. */
export function finalReloptions(facts: Pick<TableFacts, 'reloptions' | 'toastReloptions'>, eff: Pick<EffectiveOptions, 'storage'>): StorageParameter[] {
  const merged = new Map<string, string>();
  const split = (o: string, prefix: string) => {
    const eq = o.indexOf('=');
    merged.set(prefix + (eq < 0 ? o : o.slice(0, eq)), eq < 0 ? 'true' : o.slice(eq + 1));
  };
  for (const o of facts.reloptions) split(o, '');
  for (const o of facts.toastReloptions) split(o, 'toast.');
  for (const p of eff.storage) merged.set(p.name, p.value);
  return [...merged].map(([name, value]) => ({ name, value }));
}

export function finalReloptionItems(facts: Pick<TableFacts, 'reloptions' | 'toastReloptions'>, eff: Pick<EffectiveOptions, 'storage'>): string[] {
  return finalReloptions(facts, eff).map(storageItem);
}

/** The tablespace an index of the copy is built in. */
export function indexTablespace(indexTablespaceNow: string | null, eff: Pick<EffectiveOptions, 'tablespace' | 'moveIndexes'>): string | null {
  return eff.moveIndexes && eff.tablespace !== null ? eff.tablespace : indexTablespaceNow;
}

/**
 * A digest of what the options change in the copy: a copy kept (prepared, or a chunked copy that
 * stopped) under other options is not swapped in. Null when nothing is changed, so the stored
 * fingerprint of a run without options is the table's fingerprint as before.
 */
export function optionsDigest(eff: EffectiveOptions): string | null {
  if (eff.order.length === 0 && eff.tablespace === null && eff.storage.length === 0) return null;
  const what = JSON.stringify({ order: eff.order, tablespace: eff.tablespace, moveIndexes: eff.moveIndexes, storage: eff.storage });
  return createHash('md5').update(what).digest('hex');
}

/** What rpcl.runs.fingerprint holds for a run: the table's fingerprint, then the options' digest. */
export function runFingerprint(tableFingerprint: string, eff: EffectiveOptions): string {
  const digest = optionsDigest(eff);
  return digest === null ? tableFingerprint : `${tableFingerprint}+${digest}`;
}

/** The table's part of a stored run fingerprint. */
export function tableFingerprintOf(stored: string | null): string | null {
  return stored === null ? null : stored.split('+')[0]!;
}

/** One line per option, for --dry-run and the log. */
export function describeOptions(facts: TableFacts, eff: EffectiveOptions): string[] {
  const order = eff.order.length === 0
    ? eff.orderSource
    : `${eff.order.map((o) => `${displayIdent(o.column)}${o.descending ? ' DESC' : ''}${o.nulls ? ` NULLS ${o.nulls.toUpperCase()}` : ''}`).join(', ')} (${eff.orderSource})`;
  const here = facts.tablespace === null ? 'the database default' : displayIdent(facts.tablespace);
  const space = eff.tablespace === null
    ? `stays in ${here}`
    : `${displayIdent(eff.tablespace)} (from ${here}), indexes ${eff.moveIndexes ? 'move too' : 'stay in their own tablespaces'}`;
  const requested = eff.storage.map((p) => `${p.name}=${p.value}`).join(', ');
  const final = finalReloptions(facts, eff).map((p) => `${p.name}=${p.value}`).join(', ');
  return [
    `order            ${order}`,
    `tablespace       ${space}`,
    `storage          ${requested === '' ? 'unchanged' : `${requested} set on the copy before its rows`}; after the swap: ${final === '' ? 'none' : final}`,
  ];
}
