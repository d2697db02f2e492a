/**
 * Removes the work objects of one table's run, found by the table's OID: capture triggers on
 * the table, the log, the copy, the capture function, and an old table left after a committed
 * swap. Only objects named by rpcl for that OID in rpcl's schema are touched.
 */
import type pg from 'pg';
import type { ConnectionConfig } from '../config/types.js';
import type { TableRef } from '../report/events.js';
import type { Logger } from '../report/logger.js';
import { quoteIdent } from '../db/ident.js';
import { retryOnLock } from '../db/retry.js';
import { inTransaction, setLocalTimeouts } from '../db/session.js';
import { HELPER_SCHEMA, workNames } from '../plan/names.js';

export interface LeftoverObjects {
  triggers: string[];
  tables: string[];
  functions: string[];
  /** The table the triggers are on, quoted, if it still exists. */
  table: string | null;
  /** A partition's run: its CHECK constraint on the default partition beside it (quoted table, name). */
  constraints: { table: string; name: string }[];
}

export async function findLeftovers(client: pg.Client, oid: number): Promise<LeftoverObjects> {
  const names = [workNames.logTable(oid), workNames.copyTable(oid), workNames.progressTable(oid), workNames.oldTable(oid)];
  const triggers = await client.query<{ tgname: string }>(
      `SELECT tgname FROM pg_trigger WHERE tgrelid = $1::oid AND tgname = ANY($2::text[]) ORDER BY tgname`,
      [oid, [workNames.captureTrigger(oid), workNames.truncateTrigger(oid)]],
    );
  const tables = await client.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) AND c.relkind = 'r' ORDER BY 1`,
      [HELPER_SCHEMA, names],
    );
  const functions = await client.query<{ proname: string }>(
      `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = $1 AND p.proname = $2`,
      [HELPER_SCHEMA, workNames.captureFunction(oid)],
    );
  const table = await client.query<{ ref: string }>(
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS ref
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1::oid`,
      [oid],
    );
  const constraints = await client.query<{ ref: string; conname: string }>(
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS ref, con.conname
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE con.conname = $1 AND con.contype = 'c' ORDER BY 1`,
      [workNames.defaultExclusion(oid)],
    );
  return {
    constraints: constraints.rows.map((r) => ({ table: r.ref, name: r.conname })),
    triggers: triggers.rows.map((r) => r.tgname),
    tables: tables.rows.map((r) => r.relname),
    functions: functions.rows.map((r) => r.proname),
    table: table.rows[0]?.ref ?? null,
  };
}

/**
 * Everything kept work needs is there: both triggers, the log, the copy, the function, and for
 * a chunked copy its progress table.
 */
export function isComplete(l: LeftoverObjects, oid: number, chunked: boolean): boolean {
  return (
    l.triggers.length === 2 &&
    l.tables.includes(workNames.logTable(oid)) &&
    l.tables.includes(workNames.copyTable(oid)) &&
    (!chunked || l.tables.includes(workNames.progressTable(oid))) &&
    l.functions.length === 1
  );
}

export function isEmpty(l: LeftoverObjects): boolean {
  return l.triggers.length === 0 && l.tables.length === 0 && l.functions.length === 0 && l.constraints.length === 0;
}

export interface CleanupOptions {
  lockTimeoutMs: number;
  attempts: number;
  onRetry?: (what: string, attempt: number) => void;
}

/** Cleanup outside a table's run: retries are bounded, and logged by the caller's outcome. */
export function cleanupOptionsFor(conn: ConnectionConfig) {
  return { lockTimeoutMs: conn.lockTimeoutMs, attempts: 10 };
}

/** Cleanup inside a table's run: each retry is logged for the table. */
export function cleanupOptions(conn: ConnectionConfig, log: Logger, ref: TableRef) {
  return {
    lockTimeoutMs: conn.lockTimeoutMs,
    attempts: 10,
    onRetry: (what: string, attempt: number) =>
      log.warning(`${what}: lock not granted within ${conn.lockTimeoutMs} ms (attempt ${attempt}), retrying`, {
        connection: ref.connection,
        table: ref.table,
      }),
  };
}


/** Returns what was removed. Throws (a lock failure after all attempts) if something stays. */
export async function removeWorkObjects(client: pg.Client, oid: number, opts: CleanupOptions): Promise<string[]> {
  const found = await findLeftovers(client, oid);
  const removed: string[] = [];
  const bounded = (what: string, sql: string) =>
    retryOnLock(
      { attempts: opts.attempts, baseDelayMs: 200, maxDelayMs: 3000, onRetry: (a) => opts.onRetry?.(what, a) },
      () =>
        inTransaction(client, async () => {
          // Dropping a trigger takes ACCESS EXCLUSIVE on the application's table: bounded.
          await setLocalTimeouts(client, { lockTimeoutMs: opts.lockTimeoutMs });
          await client.query(sql);
        }),
    );
  if (found.functions.length > 0 && found.triggers.length > 0) {
    // Replacing the function takes no lock on the application's table: from here on the
    // triggers cost the writers nothing, even if a long transaction keeps them from being
    // dropped (DROP TRIGGER needs ACCESS EXCLUSIVE).
    await client.query(
      `CREATE OR REPLACE FUNCTION ${quoteIdent(HELPER_SCHEMA)}.${quoteIdent(workNames.captureFunction(oid))}() ` +
        `RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`,
    );
  }
  // On an application table (ACCESS EXCLUSIVE, bounded); it never rejects a write, so a
  // failure here is reported like a trigger's but harms no one meanwhile.
  let triggerFailure: unknown = null;
  for (const c of found.constraints) {
    try {
      await bounded(`drop constraint ${c.name}`, `ALTER TABLE ${c.table} DROP CONSTRAINT IF EXISTS ${quoteIdent(c.name)}`);
      removed.push(`constraint ${c.name} on ${c.table}`);
    } catch (err) {
      triggerFailure = err;
    }
  }
  if (found.table !== null) {
    for (const trigger of found.triggers) {
      try {
        await bounded(`drop trigger ${trigger}`, `DROP TRIGGER IF EXISTS ${quoteIdent(trigger)} ON ${found.table}`);
        removed.push(`trigger ${trigger}`);
      } catch (err) {
        triggerFailure = err;
      }
    }
  }
  // Work tables take no lock of the application's: they go even if a trigger had to stay.
  for (const table of found.tables) {
    await bounded(`drop table ${table}`, `DROP TABLE IF EXISTS ${quoteIdent(HELPER_SCHEMA)}.${quoteIdent(table)}`);
    removed.push(`table ${HELPER_SCHEMA}.${table}`);
  }
  if (triggerFailure !== null) {
    throw new Error(
      `the capture trigger on ${found.table ?? 'the table'} (or rpcl's constraint on its default partition) could not be dropped ` +
        `(${(triggerFailure as Error).message}); a trigger left now does nothing. A long transaction holds the table: ` +
        'run rpcl abort_repack once it has ended',
    );
  }
  for (const fn of found.functions) {
    await bounded(`drop function ${fn}`, `DROP FUNCTION IF EXISTS ${quoteIdent(HELPER_SCHEMA)}.${quoteIdent(fn)}()`);
    removed.push(`function ${HELPER_SCHEMA}.${fn}`);
  }
  return removed;
}

