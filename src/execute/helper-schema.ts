/**
 * Installs and removes rpcl's helper schema. Removal takes everything rpcl created in the
 * database (capture triggers on user tables included) and nothing else.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { ADVISORY_CLASS } from '../db/advisory.js';
import { ExitCode, RpclError } from '../errors.js';
import { displayIdent, displayQualified, quoteIdent, quoteLiteral, quoteQualified } from '../db/ident.js';
import { isLockFailure, retryOnLock } from '../db/retry.js';
import { SqlState, isSqlState } from '../db/sqlstate.js';
import { inTransaction, setLocalTimeouts } from '../db/session.js';
import {
  captureTriggers,
  foreignDependents,
  helperSchemaAccessProblem,
  helperSchemaState,
  liveRunLocks,
} from '../inspect/helper-schema.js';
import { HELPER_SCHEMA, HELPER_SCHEMA_MARKER, HELPER_SCHEMA_VERSION } from '../plan/names.js';
import { describeRecovery, describeTrace, findRunTraces, recoverDeadRuns } from './recovery.js';
import { describeIndexRecovery, describeIndexTrace, findIndexTraces, recoverIndexRuns } from './index-leftovers.js';
import type { Logger } from '../report/logger.js';

const sqlDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'sql');

export type CreateSchemaResult = 'created' | 'exists';

export async function createHelperSchema(client: pg.Client, log: Logger): Promise<CreateSchemaResult> {
  const state = await helperSchemaState(client);
  if (state.kind === 'ours') {
    log.warning(`the helper schema ${HELPER_SCHEMA} already exists in this database: nothing to do`);
    return 'exists';
  }
  if (state.kind === 'foreign') throw foreignSchemaError();
  const script = readFileSync(resolve(sqlDir, 'helper_schema.sql'), 'utf8');
  try {
    await inTransaction(client, async () => {
      await client.query(script);
      for (const upgrade of UPGRADES) await client.query(readUpgrade(upgrade));
      // COMMENT takes no bind parameters; the marker is a constant of ours, quoted as a literal.
      await client.query(
        `COMMENT ON SCHEMA ${quoteIdent(HELPER_SCHEMA)} IS ${quoteLiteral(HELPER_SCHEMA_MARKER)}`,
      );
      await client.query(`INSERT INTO ${quoteIdent(HELPER_SCHEMA)}.schema_version (version) VALUES ($1)`, [
        HELPER_SCHEMA_VERSION,
      ]);
    });
  } catch (err) {
    // Two create_schema runs racing: the loser finds the winner's schema.
    if (isSqlState(err, SqlState.duplicateSchema)) {
      log.warning(`the helper schema ${HELPER_SCHEMA} was created concurrently: nothing to do`);
      return 'exists';
    }
    if (isSqlState(err, SqlState.insufficientPrivilege)) {
      throw new RpclError(
        `cannot create the helper schema ${HELPER_SCHEMA}: ${(err as Error).message}. ` +
          'Connect as the owner of the tables to repack and GRANT CREATE ON DATABASE to that role.',
        ExitCode.failed,
      );
    }
    throw err;
  }
  log.info(`created the helper schema ${HELPER_SCHEMA}`);
  return 'created';
}

/** The column of rpcl.runs each version added: how the installed version is read. */
const VERSION_COLUMNS: Record<number, string> = { 2: 'pause_requested', 3: 'partition_of' };
/** The table of the helper schema each later version added (version 4: repack_indexes' rebuilds). */
const VERSION_TABLES: Record<number, string> = { 4: 'index_runs' };

/** Versions after 1, each with its script sql/upgrade_<version>.sql. */
const UPGRADES = Array.from({ length: HELPER_SCHEMA_VERSION - 1 }, (_, k) => k + 2);

function readUpgrade(version: number): string {
  return readFileSync(resolve(sqlDir, `upgrade_${version}.sql`), 'utf8');
}

/**
 * A helper schema installed by an older rpcl gets the newer columns, in one transaction, under
 * a transaction-level advisory lock so that two rpcl processes upgrading at once do not race.
 */
async function upgradeHelperSchema(client: pg.Client, log: Logger): Promise<void> {
  // Read from the catalog, which every role may read: a role that only has USAGE on the schema
  // and rights on rpcl.runs cannot read schema_version. Each version added a column to runs.
  const current = async () => {
    const { rows } = await client.query<{ attname: string }>(
      `SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = 'runs' AND a.attname = ANY($2::text[]) AND NOT a.attisdropped`,
      [HELPER_SCHEMA, Object.values(VERSION_COLUMNS)],
    );
    const present = new Set(rows.map((r) => r.attname));
    const tables = await client.query<{ relname: string }>(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname = ANY($2::text[])`,
      [HELPER_SCHEMA, Object.values(VERSION_TABLES)],
    );
    const tablesPresent = new Set(tables.rows.map((r) => r.relname));
    return Math.max(
      1,
      ...Object.entries(VERSION_COLUMNS).filter(([, col]) => present.has(col)).map(([v]) => Number(v)),
      ...Object.entries(VERSION_TABLES).filter(([, t]) => tablesPresent.has(t)).map(([v]) => Number(v)),
    );
  };
  if ((await current()) >= HELPER_SCHEMA_VERSION) return;
  try {
    await inTransaction(client, async () => {
      await client.query(`SELECT pg_advisory_xact_lock($1::int, 0)`, [ADVISORY_CLASS]);
      const from = await current();
      for (const version of UPGRADES.filter((v) => v > from)) {
        await client.query(readUpgrade(version));
        await client.query(`INSERT INTO ${quoteIdent(HELPER_SCHEMA)}.schema_version (version) VALUES ($1)`, [version]);
      }
    });
  } catch (err) {
    if (isSqlState(err, SqlState.insufficientPrivilege)) {
      throw new RpclError(
        `the helper schema ${HELPER_SCHEMA} was installed by an older rpcl and needs an upgrade that this role may not make ` +
          `(${(err as Error).message}). Run any rpcl command once as the owner of ${HELPER_SCHEMA}.runs, then again as this role`,
        ExitCode.refused,
      );
    }
    throw err;
  }
  log.info(`upgraded the helper schema ${HELPER_SCHEMA} to version ${HELPER_SCHEMA_VERSION}`);
}

/** Runs need the helper schema: installed on first use, with a note in the log. */
export async function ensureHelperSchema(client: pg.Client, log: Logger): Promise<void> {
  const state = await helperSchemaState(client);
  if (state.kind === 'foreign') throw foreignSchemaError();
  if (state.kind === 'absent') {
    await createHelperSchema(client, log);
    return;
  }
  const problem = await helperSchemaAccessProblem(client);
  if (problem !== null) throw new RpclError(problem, ExitCode.refused);
  await upgradeHelperSchema(client, log);
}

/**
 * What drop_schema would remove, in words, or null without a helper schema (a schema of that
 * name that rpcl did not create is refused, as by dropHelperSchema): the
 * kept or half-done work of each table, capture triggers, the schema with the run history.
 */
export async function dropSchemaPlan(client: pg.Client): Promise<string[] | null> {
  const state = await helperSchemaState(client);
  if (state.kind === 'foreign') throw foreignSchemaError();
  if (state.kind === 'absent') return null;
  const items = (await findRunTraces(client)).map(describeTrace);
  items.push(...(await findIndexTraces(client)).map(describeIndexTrace));
  for (const t of await captureTriggers(client, state.oid)) {
    items.push(`capture trigger ${t.triggerName} on ${displayQualified({ schema: t.schema, name: t.table })}`);
  }
  items.push(`the schema ${HELPER_SCHEMA} with its run history (rpcl.runs)`);
  return items;
}

export interface DropSchemaOptions {
  lockTimeoutMs: number;
  /** Attempts per capture trigger when its table is busy. */
  attempts?: number;
}

export interface DropSchemaResult {
  dropped: boolean;
  triggersRemoved: string[];
}

export async function dropHelperSchema(
  client: pg.Client,
  opts: DropSchemaOptions,
  log: Logger,
): Promise<DropSchemaResult> {
  const state = await helperSchemaState(client);
  if (state.kind === 'absent') {
    log.info(`no helper schema ${HELPER_SCHEMA} in this database: nothing to drop`);
    return { dropped: false, triggersRemoved: [] };
  }
  if (state.kind === 'foreign') throw foreignSchemaError();

  const live = await liveRunLocks(client);
  if (live.length > 0) {
    const list = live.map((l) => `table OID ${l.tableOid} (backend pid ${l.pid})`).join(', ');
    throw new RpclError(
      `cannot drop the helper schema while rpcl runs are live: ${list}. ` +
        'Stop them first (stop_repack, stop_prepare, stop_replay), then run drop_schema again.',
      ExitCode.refused,
    );
  }
  const dependents = await foreignDependents(client, state.oid);
  if (dependents.length > 0) {
    throw new RpclError(
      `cannot drop the helper schema ${HELPER_SCHEMA}: objects outside it depend on it and would be ` +
        `dropped too: ${dependents.join('; ')}. Drop or change them first, then run drop_schema again.`,
      ExitCode.refused,
    );
  }

  // Dead and prepared runs first, through the same recovery as abort_repack: a run that died
  // after its swap is completed (its foreign keys validated), not just dropped, and the log
  // says which run was which.
  try {
    for (const r of await recoverDeadRuns(client, { lockTimeoutMs: opts.lockTimeoutMs, attempts: opts.attempts ?? 5, includePrepared: true })) {
      log.info(describeRecovery(r));
    }
  } catch (err) {
    // Whatever recovery could not sort out, the generic removal below still takes away.
    log.warning(`could not recover every run before dropping: ${(err as Error).message}`);
  }
  // repack_indexes' leftovers live in the users' schemas, not in ours: DROP SCHEMA would not
  // take them, and would lose the record (rpcl.index_runs) that proves which are rpcl's. So
  // they go first, and if they cannot, nothing is dropped.
  try {
    for (const r of await recoverIndexRuns(client, { lockTimeoutMs: opts.lockTimeoutMs, attempts: opts.attempts ?? 5 })) {
      if (r.outcome === 'live') throw new Error(describeIndexRecovery(r));
      log.info(describeIndexRecovery(r));
    }
  } catch (err) {
    throw new RpclError(
      `cannot drop the helper schema ${HELPER_SCHEMA} yet: the leftovers of an interrupted index rebuild could not be removed ` +
        `(${(err as Error).message}). Run drop_schema again when the long transactions have ended.`,
      ExitCode.failed,
    );
  }
  const removed: string[] = [];
  for (const t of await captureTriggers(client, state.oid)) {
    const table = quoteQualified({ schema: t.schema, name: t.table });
    await withLockRetries(opts, log, `drop trigger ${t.triggerName} on ${displayQualified({ schema: t.schema, name: t.table })}`, () =>
      inTransaction(client, async () => {
        // DROP TRIGGER takes SHARE ROW EXCLUSIVE on the user's table: bounded, so the
        // application's queries never queue for long behind us.
        await setLocalTimeouts(client, { lockTimeoutMs: opts.lockTimeoutMs });
        await client.query(`DROP TRIGGER IF EXISTS ${quoteIdent(t.triggerName)} ON ${table}`);
      }),
    );
    removed.push(`${displayQualified({ schema: t.schema, name: t.table })}.${t.triggerName}`);
    log.info(`removed capture trigger ${t.triggerName} from ${displayQualified({ schema: t.schema, name: t.table })}`);
  }

  await withLockRetries(opts, log, `drop schema ${HELPER_SCHEMA}`, () =>
    inTransaction(client, async () => {
      await setLocalTimeouts(client, { lockTimeoutMs: opts.lockTimeoutMs });
      // Re-checked inside the transaction: a trigger created since the scan would be
      // dropped by CASCADE without a bounded lock on its table.
      const late = await captureTriggers(client, state.oid);
      if (late.length > 0) throw new RpclError('a capture trigger appeared during drop_schema; run it again', ExitCode.failed);
      await client.query(`DROP SCHEMA ${quoteIdent(HELPER_SCHEMA)} CASCADE`);
    }),
  );
  log.info(`dropped the helper schema ${HELPER_SCHEMA}`);
  return { dropped: true, triggersRemoved: removed };
}

async function withLockRetries<T>(
  opts: DropSchemaOptions,
  log: Logger,
  what: string,
  body: () => Promise<T>,
): Promise<T> {
  const attempts = opts.attempts ?? 5;
  try {
    return await retryOnLock(
      {
        attempts,
        baseDelayMs: 400,
        maxDelayMs: 5000,
        onRetry: (attempt) => {
          log.warning(`${what}: lock not granted within ${opts.lockTimeoutMs} ms (attempt ${attempt}/${attempts}), retrying`);
        },
      },
      body,
    );
  } catch (err) {
    if (!isLockFailure(err)) throw err;
    throw new RpclError(
      `${what}: lock not granted within lock_timeout after ${attempts} attempts; ` +
        'the table is busy. Run drop_schema again when the long transactions have ended.',
      ExitCode.failed,
    );
  }
}

function foreignSchemaError(): RpclError {
  return new RpclError(
    `a schema named ${HELPER_SCHEMA} exists but was not created by rpcl (its comment is not rpcl's marker); ` +
      'rpcl will not use or drop it. Rename that schema to let rpcl install its helper schema.',
    ExitCode.refused,
  );
}
