/**
 * Starts one real PostgreSQL server for the integration project; each test file then creates
 * its own database on it. RPCL_TEST_PG_MAJOR selects the server major (13-18, default 18).
 */
import type { TestProject } from 'vitest/node';
import { DEFAULT_MAJOR, startEmbeddedServer, type EmbeddedServer } from '../../src/embedded/server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgServer: { host: string; port: number; user: string; password: string; major: number };
  }
}

let server: EmbeddedServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  const major = Number(process.env.RPCL_TEST_PG_MAJOR ?? DEFAULT_MAJOR);
  server = await startEmbeddedServer({
    major,
    settings: {
      // Throwaway data: durability off for speed. Nothing here changes locking or MVCC.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      max_connections: '300',
    },
  });
  const { host, port, user, password } = server;
  project.provide('pgServer', { host, port, user, password, major: server.major });
  process.stdout.write(`integration tests on PostgreSQL ${server.major} (port ${port})\n`);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
