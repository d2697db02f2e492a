/** What the refusal rules need besides the table's facts: the role's rights and the server. */
import type pg from 'pg';
import type { Circumstances } from '../plan/refusals.js';

export async function readCircumstances(client: pg.Client, schema: string): Promise<Circumstances> {
  const { rows } = await client.query<{ ok: boolean; v: string }>(
    `SELECT has_schema_privilege($1, 'CREATE') AS ok, current_setting('server_version_num') AS v`,
    [schema],
  );
  return { createInSchema: rows[0]?.ok ?? false, serverVersion: Number(rows[0]?.v ?? 0) };
}
