/** `abort_repack`: removes every prepared or half-done run's work; the tables stay as they were. */
import { connect } from '../db/connect.js';
import { ExitCode } from '../errors.js';
import { describeRecovery, describeTrace, findRunTraces, recoverDeadRuns } from '../execute/recovery.js';
import { confirmRemoval } from './confirm.js';
import { cleanupOptionsFor } from '../execute/cleanup.js';
import { describeIndexRecovery, describeIndexTrace, findIndexTraces, recoverIndexRuns } from '../execute/index-leftovers.js';
import { helperSchemaState } from '../inspect/helper-schema.js';
import type { Runtime } from './runtime.js';

export async function abortRepack(rt: Runtime, opts: { yes: boolean }): Promise<number> {
  let code: number = ExitCode.ok;
  for (const conn of rt.connections) {
    const log = rt.log.child({ connection: conn.name });
    const client = await connect(conn, { home: rt.home, applicationName: 'rpcl abort' });
    try {
      if ((await helperSchemaState(client)).kind !== 'ours') {
        log.info('no helper schema of rpcl in this database: nothing to abort');
        process.stdout.write(`${conn.name}: nothing to abort\n`);
        continue;
      }
      const traces = await findRunTraces(client);
      // repack_indexes' interrupted rebuilds: their INVALID _ccnew/_ccold indexes.
      const indexTraces = await findIndexTraces(client);
      const items = [...traces.map(describeTrace), ...indexTraces.map(describeIndexTrace)];
      if (items.length > 0 && !(await confirmRemoval(`${conn.name}: abort_repack will remove:`, items, opts))) {
        process.stdout.write(`${conn.name}: nothing was removed\n`);
        code = ExitCode.interrupted;
        continue;
      }
      const results = await recoverDeadRuns(client, { ...cleanupOptionsFor(conn), includePrepared: true });
      const indexResults = await recoverIndexRuns(client, cleanupOptionsFor(conn));
      if (results.length === 0 && indexResults.length === 0) process.stdout.write(`${conn.name}: nothing to abort\n`);
      const lines = [
        ...results.map((r) => ({ live: r.outcome === 'live', line: describeRecovery(r) })),
        ...indexResults.map((r) => ({ live: r.outcome === 'live', line: describeIndexRecovery(r) })),
      ];
      for (const r of lines) {
        const line = r.line;
        if (r.live) {
          log.warning(line);
          code = ExitCode.refused;
        } else {
          log.info(line);
        }
        process.stdout.write(`${conn.name}: ${line}\n`);
      }
    } catch (err) {
      log.error(`abort_repack failed: ${(err as Error).message}`);
      process.stdout.write(`${conn.name}: failed: ${(err as Error).message}\n`);
      code = ExitCode.failed;
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return code;
}
