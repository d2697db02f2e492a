/**
 * What a long run can check before it detaches into the background, read-only: every
 * connection (connect, server version, privileges), the table selection and its refusals,
 * the helper schema. A problem found here is printed and ends the command in the foreground
 * with its exit code, instead of being found by the background run where only the log sees it.
 *
 * Table refusals come before the helper schema's: a role that does not own the tables should
 * hear that first, not be sent to grant rights on the helper schema for nothing.
 */
import type pg from 'pg';
import type { ConnectionConfig } from '../config/types.js';
import { connect } from '../db/connect.js';
import { displayIdent, displayQualified } from '../db/ident.js';
import { ExitCode } from '../errors.js';
import { throttleRefusal } from '../execute/throttle.js';
import { readCircumstances } from '../inspect/circumstances.js';
import { helperSchemaAccessProblem, helperSchemaState } from '../inspect/helper-schema.js';
import { describeMissing, selectTables, type Candidate } from '../inspect/select.js';
import { tableOptionsFor, unmatchedEntries } from '../execute/table-options.js';
import { optionsEntry } from '../plan/table-options.js';
import { inspectTable } from '../inspect/table.js';
import { HELPER_SCHEMA } from '../plan/names.js';
import { refusalReason } from '../plan/refusals.js';
import type { Runtime } from './runtime.js';

export interface Problem {
  /** What it is about: a listed table, the helper schema, the server. */
  about: 'table' | 'helper schema' | 'server';
  message: string;
  exitCode: number;
}

/** Oldest server rpcl supports. */
const MIN_SERVER_VERSION = 130000;

/** tables: check the table selection too (not for replay_data, which works on prepared copies). */
export async function preflight(rt: Runtime, opts: { tables: boolean }): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const conn of rt.connections) {
    // A connection that fails throws its ConnectionError (exit 4): nothing after it matters.
    const client = await connect(conn, { home: rt.home, applicationName: 'rpcl check' });
    try {
      problems.push(...(await checkConnection(client, conn, opts)));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return problems;
}

/** Problems of one connection, tables first, then the helper schema. */
export async function checkConnection(client: pg.Client, conn: ConnectionConfig, opts = { tables: true }): Promise<Problem[]> {
  const version = Number((await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0]!.v);
  if (version < MIN_SERVER_VERSION) {
    return [{ about: 'server', message: `${conn.name}: PostgreSQL ${Math.floor(version / 10000)} is not supported: rpcl needs 13 or later`, exitCode: ExitCode.refused }];
  }
  const problems: Problem[] = [];
  const selection = opts.tables ? await selectTables(client, conn.schemas, conn.tables) : { missing: [], candidates: [] };
  for (const missing of selection.missing) {
    problems.push({ about: 'table', message: `${conn.name} ${displayQualified(missing)}: refused: ${describeMissing(missing)}`, exitCode: ExitCode.refused });
  }
  for (const candidate of selection.candidates.filter((c) => c.listed)) {
    const facts = await inspectTable(client, candidate.oid);
    if (facts === null) continue;
    const reason = refusalReason(facts, await readCircumstances(client, facts.schema)) ?? (await throttleRefusal(client, conn));
    if (reason !== null) {
      problems.push({ about: 'table', message: `${conn.name} ${displayQualified(facts)}: refused: ${reason}`, exitCode: ExitCode.refused });
    }
  }
  if (opts.tables) problems.push(...(await tableOptionsProblems(client, conn, selection.candidates)));
  const schema = await helperSchemaProblem(client);
  if (schema !== null) problems.push({ about: 'helper schema', message: `${conn.name}: ${schema}`, exitCode: ExitCode.refused });
  return problems;
}

/** table_options entries naming no table, or refused for their table (a missing tablespace, an unknown column...). */
async function tableOptionsProblems(client: pg.Client, conn: ConnectionConfig, candidates: Candidate[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const message of (await unmatchedEntries(client, conn, candidates)).missing) {
    problems.push({ about: 'table', message, exitCode: ExitCode.refused });
  }
  for (const candidate of candidates.filter((c) => optionsEntry(conn, c) !== undefined)) {
    const facts = await inspectTable(client, candidate.oid);
    if (facts === null) continue;
    const options = await tableOptionsFor(client, conn, facts);
    if ('refusal' in options) {
      problems.push({ about: 'table', message: `${conn.name} ${displayQualified(facts)}: refused: ${options.refusal}`, exitCode: ExitCode.refused });
    }
  }
  return problems;
}

/** Why this role could not install or use the helper schema, or null. */
async function helperSchemaProblem(client: pg.Client): Promise<string | null> {
  const state = await helperSchemaState(client);
  if (state.kind === 'foreign') {
    return `a schema named ${HELPER_SCHEMA} exists but was not created by rpcl; rename it to let rpcl install its helper schema`;
  }
  if (state.kind === 'ours') return helperSchemaAccessProblem(client);
  const { rows } = await client.query<{ ok: boolean; me: string }>(
    `SELECT has_database_privilege(current_database(), 'CREATE') AS ok, current_user AS me`,
  );
  return rows[0]!.ok ? null :
    `role ${displayIdent(rows[0]!.me)} may not create the helper schema ${HELPER_SCHEMA}: GRANT CREATE ON DATABASE to it, or run rpcl create_schema once as a role that may`;
}
