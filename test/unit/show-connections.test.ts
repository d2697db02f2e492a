import { describe, expect, it } from 'vitest';
import { renderConnectionsJson, renderConnectionsTable } from '../../src/cli/show-connections.js';
import type { ConnectionConfig } from '../../src/config/types.js';

const prod: ConnectionConfig = {
  name: 'prod',
  host: 'db.internal',
  port: 5432,
  user: 'owner',
  password: 'hunter2',
  database: 'app',
  sslmode: 'verify-full',
  sslrootcert: '/etc/ca.pem',
  connectTimeoutSeconds: 5,
  schemas: ['sales'],
  tables: [{ schema: 'public', name: 'Mixed Case' }],
  indexes: [],
  maxReplayRows: 5000,
  lockTimeoutMs: 2000,
  checkTimeSeconds: 10,
  analyzeTables: false,
  deadlockResolution: 'cancel_query',
  swapAttempts: 3,
  catchupTimeoutSeconds: 600,
  parallelSessions: 1,
  copyMode: 'chunked',
  chunkTimeSeconds: 0.25,
  sleepRatio: 0.5,
  maxWalRateMBps: 20,
  maxReplicaLagSeconds: null,
  swapDeadlineMs: 1_800_000,
  swapWindow: { startMinute: 120, endMinute: 270, text: '02:00-04:30' },
  minBloatRatio: 0.2,
  minBloatBytes: 500 * 1024 ** 2,
};
const bare: ConnectionConfig = { ...prod, name: 'env', host: undefined, port: undefined, user: undefined,
  password: undefined, database: undefined, sslmode: undefined, sslrootcert: undefined, connectTimeoutSeconds: undefined, schemas: [], tables: [] };

describe('show_connections', () => {
  it('shows indexes and table_options of the connections that set them, as a column when any does', () => {
    const tuned: ConnectionConfig = {
      ...bare, name: 'tuned', password: 'hunter2', indexes: [{ schema: 'sales', name: 'Orders_pkey' }],
      tableOptions: [{
        table: { schema: 'sales', name: 'Orders' }, orderBy: [{ column: 'Created At', descending: true, nulls: 'last' }, { column: 'id', descending: false, nulls: null }],
        tablespace: 'fast ssd', moveIndexes: true, storageParameters: [{ name: 'fillfactor', value: '70' }, { name: 'toast.autovacuum_enabled', value: 'false' }],
      }, { table: { schema: 'public', name: 'audit' }, orderBy: [], moveIndexes: false, storageParameters: [] }],
    };
    const table = renderConnectionsTable([bare, tuned]).split('\n');
    expect(table[0]).toMatch(/ indexes +table_options$/);
    expect(table[2]).toMatch(/ - +-$/);
    expect(table[3]).toMatch(
      / sales\."Orders_pkey" +sales\."Orders": order_by \["Created At" DESC NULLS LAST, id\]; tablespace "fast ssd"; move_indexes; fillfactor=70 toast\.autovacuum_enabled=false,public\.audit: order_by \[\]$/,
    );
    const rows = JSON.parse(renderConnectionsJson([tuned])) as Record<string, unknown>[];
    expect(rows[0]!.table_options).toEqual([
      'sales."Orders": order_by ["Created At" DESC NULLS LAST, id]; tablespace "fast ssd"; move_indexes; fillfactor=70 toast.autovacuum_enabled=false',
      'public.audit: order_by []',
    ]);
    expect(JSON.stringify(rows)).not.toMatch(/hunter2/);
  });

  it('renders one aligned row per connection without the password', () => {
    expect(renderConnectionsTable([prod, bare])).toBe(
      [
        'name  host         port  user   database  sslmode      sslrootcert  connect_timeout  schemas  tables               max_replay_rows  lock_timeout  check_time  analyze_tables  deadlock_resolution  swap_attempts  catchup_timeout  parallel_sessions  copy_mode  chunk_time  sleep_ratio  max_wal_rate  max_replica_lag  swap_deadline  swap_window  min_bloat_ratio  min_bloat_bytes',
        '----  -----------  ----  -----  --------  -----------  -----------  ---------------  -------  -------------------  ---------------  ------------  ----------  --------------  -------------------  -------------  ---------------  -----------------  ---------  ----------  -----------  ------------  ---------------  -------------  -----------  ---------------  ---------------',
        'prod  db.internal  5432  owner  app       verify-full  /etc/ca.pem  5                sales    public."Mixed Case"  5000             2000ms        10          false           cancel_query         3              600              1                  chunked    0.25        0.5          20            -                1800s          02:00-04:30  0.2              524288000',
        'env   -            -     -      -         -            -            -                -        -                    5000             2000ms        10          false           cancel_query         3              600              1                  chunked    0.25        0.5          20            -                1800s          02:00-04:30  0.2              524288000',
      ].join('\n'),
    );
  });

  it('renders JSON with repcloud key names and no password', () => {
    const rows = JSON.parse(renderConnectionsJson([prod])) as Record<string, unknown>[];
    expect(rows[0]).toEqual({
      name: 'prod', host: 'db.internal', port: 5432, user: 'owner', database: 'app', sslmode: 'verify-full',
      sslrootcert: '/etc/ca.pem', connect_timeout: 5, schemas: ['sales'], tables: ['public."Mixed Case"'], max_replay_rows: 5000,
      lock_timeout: '2000ms', check_time: 10, analyze_tables: false, deadlock_resolution: 'cancel_query',
      swap_attempts: 3, catchup_timeout: 600, parallel_sessions: 1, copy_mode: 'chunked', chunk_time: 0.25,
      sleep_ratio: 0.5, max_wal_rate: 20, max_replica_lag: null, swap_deadline: '1800s', swap_window: '02:00-04:30',
      min_bloat_ratio: 0.2, min_bloat_bytes: 524288000,
    });
    expect(renderConnectionsJson([prod])).not.toContain('hunter2');
  });
});
