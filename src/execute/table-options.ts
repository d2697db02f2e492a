/**
 * The table_options of one table as a run uses them (issue 13): read the server's facts,
 * resolve the entry, choose the copy. Shared by the run, the preflight and the dry run, so all
 * three refuse the same entries with the same words.
 */
import type pg from 'pg';
import type { ConnectionConfig } from '../config/types.js';
import type { TableFacts } from '../inspect/facts.js';
import { readOptionFacts, type StorageChecks } from '../inspect/table-options.js';
import {
  chooseCopy, describeOptions, optionsEntry, optionsKey, resolveTableOptions, type CopyChoice, type EffectiveOptions,
} from '../plan/table-options.js';

export interface TableOptionsInEffect {
  /** Its order is empty when the copy does not apply one (see CopyChoice). */
  effective: EffectiveOptions;
  choice: CopyChoice;
  /** An entry exists for the table, or a CLUSTER index gives an order. */
  shown: boolean;
}

export async function tableOptionsFor(
  client: pg.Client, conn: ConnectionConfig, facts: TableFacts, checked?: StorageChecks,
): Promise<TableOptionsInEffect | { refusal: string }> {
  const entry = optionsEntry(conn, facts);
  const resolved = resolveTableOptions(facts, entry, await readOptionFacts(client, facts, entry, checked));
  if ('refusal' in resolved) return resolved;
  const choice = chooseCopy(conn.copyMode, facts, resolved);
  if (choice.refusal !== null) return { refusal: choice.refusal };
  const effective = choice.ordered ? resolved : { ...resolved, order: [], orderSource: `${resolved.orderSource}, not applied` };
  return { effective, choice, shown: entry !== undefined || resolved.order.length > 0 };
}

/** What the log says of a table's options at the start of its run (nothing when it has none). */
export function optionNotes(facts: TableFacts, o: TableOptionsInEffect): string[] {
  if (!o.shown) return [];
  const lines = describeOptions(facts, o.effective).map((l) => `table options: ${l.replace(/ {2,}/, ': ')}`);
  return o.choice.note === null ? lines : [...lines, o.choice.note];
}


export interface UnmatchedEntries {
  /** Entries naming no table: an error before any work (a typo would repack the intended table without them). */
  missing: string[];
  /** Entries naming a table this run does not repack: a warning (they may be for another run's selection). */
  unselected: string[];
}

/** table_options entries that match no selected table, with the reason. */
export async function unmatchedEntries(
  client: pg.Client, conn: ConnectionConfig, selected: { schema: string; name: string }[],
): Promise<UnmatchedEntries> {
  const out: UnmatchedEntries = { missing: [], unselected: [] };
  for (const entry of conn.tableOptions ?? []) {
    const t = entry.table;
    if (selected.some((s) => s.schema === t.schema && s.name === t.name)) continue;
    const { rows } = await client.query<{ relkind: string }>(
      `SELECT c.relkind::text AS relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [t.schema, t.name],
    );
    const where = `${conn.name}: ${optionsKey(t)}`;
    const kind = rows[0]?.relkind;
    if (kind === undefined) {
      out.missing.push(`${where}: no such table: fix the name (quote mixed-case names: 'schema."Name"') or remove the section`);
    } else if (kind === 'p') {
      out.unselected.push(`${where}: a partitioned table holds no rows and is not repacked itself: name each leaf partition in table_options instead`);
    } else if (kind !== 'r') {
      out.missing.push(`${where}: not an ordinary table (relkind ${kind}): remove the section`);
    } else {
      out.unselected.push(`${where}: not selected by this run (schemas/tables): its options are not used`);
    }
  }
  return out;
}
