/**
 * `pause_repack` / `resume_repack`: through the state table, so they work from any host. They
 * act on the live runs of this config and connection(s). A paused run finishes the chunk or the
 * replay batch in flight, then holds no transaction and no lock; capture goes on meanwhile (it
 * runs in the application's own transactions), so the log grows until the run is resumed.
 */
import { connect } from '../db/connect.js';
import { ExitCode } from '../errors.js';
import { helperSchemaState, liveRunLocks } from '../inspect/helper-schema.js';
import type { Runtime } from './runtime.js';

export async function setPaused(rt: Runtime, paused: boolean): Promise<number> {
  const verb = paused ? 'pause' : 'resume';
  for (const conn of rt.connections) {
    const log = rt.log.child({ connection: conn.name });
    const client = await connect(conn, { home: rt.home, applicationName: `rpcl ${verb}` });
    try {
      const schema = await helperSchemaState(client);
      const hasColumn = schema.kind === 'ours' && (await client.query(
        `SELECT 1 FROM pg_attribute WHERE attrelid = 'rpcl.runs'::regclass AND attname = 'pause_requested' AND NOT attisdropped`,
      )).rowCount === 1;
      const live = hasColumn ? (await liveRunLocks(client)).map((l) => l.tableOid) : [];
      const { rows } = live.length === 0 ? { rows: [] } : await client.query<{ tbl: string; phase: string }>(
        `UPDATE rpcl.runs SET pause_requested = $4
         WHERE status = 'running' AND config_name = $1 AND connection_name = $2 AND table_oid = ANY($3::oid[])
           AND pause_requested IS DISTINCT FROM $4
         RETURNING quote_ident(schema_name) || '.' || quote_ident(table_name) AS tbl, phase`,
        [rt.config.name, conn.name, live, paused],
      );
      if (rows.length === 0) {
        const line = `${conn.name}: no ${paused ? 'running' : 'paused'} rpcl run of config ${rt.config.name}: nothing to ${verb}`;
        log.info(line);
        process.stdout.write(`${line}\n`);
      }
      for (const r of rows) {
        const line = paused
          ? `${conn.name} ${r.tbl}: pause requested (phase ${r.phase}). It takes effect after the chunk or replay batch in flight ` +
            '(a snapshot copy or an index build finishes first); then the run holds no transaction and no lock, and capture goes on. ' +
            '`rpcl resume_repack` continues it'
          : `${conn.name} ${r.tbl}: resumed (phase ${r.phase})`;
        log.info(line);
        process.stdout.write(`${line}\n`);
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return ExitCode.ok;
}
