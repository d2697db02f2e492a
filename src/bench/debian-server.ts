/**
 * Debian's PostgreSQL 15 with pg_repack, for side-by-side benchmarks: installed with apt-get
 * when missing (the machine reaches Debian's packages), started in a temporary directory as
 * the `postgres` OS user, removed afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, chownSync, chmodSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../embedded/server.js';

const BIN = '/usr/lib/postgresql/15/bin';

export interface DebianServer {
  host: string;
  port: number;
  user: string;
  pgRepack: string;
  stop(): void;
}

function ensureInstalled(log: (s: string) => void): void {
  if (existsSync(join(BIN, 'postgres')) && existsSync(join(BIN, 'pg_repack'))) return;
  if (userInfo().uid !== 0) throw new Error('PostgreSQL 15 and pg_repack are missing: run as root, or apt-get install postgresql-15-repack');
  log('installing postgresql-15 and postgresql-15-repack with apt-get ...');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql-15', 'postgresql-15-repack'], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

function asPostgres(cmd: string, args: string[]): void {
  const runAs = userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] as const : [cmd, args] as const;
  const r = spawnSync(runAs[0], runAs[1] as string[], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
}

/**
 * RPCL_BENCH_TRACE: the server log names every lock wait longer than 20 ms (who waited, for
 * what, behind whom) and every checkpoint, and is printed when the server stops.
 */
const TRACE_SETTINGS = ' -c log_lock_waits=on -c deadlock_timeout=20ms -c log_checkpoints=on -c log_line_prefix=%m[%p]%q%a: ';

export async function startDebianServer(log: (s: string) => void): Promise<DebianServer> {
  const trace = Boolean(process.env.RPCL_BENCH_TRACE);
  ensureInstalled(log);
  const dir = mkdtempSync(join(tmpdir(), 'rpcl-bench-pg15-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  if (userInfo().uid === 0) {
    const { uid, gid } = { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
    chownSync(dir, uid, gid);
  }
  const port = await freePort();
  asPostgres(join(BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '-N']);
  asPostgres(join(BIN, 'pg_ctl'), [
    '-D', data, '-l', join(dir, 'server.log'), '-w', 'start',
    '-o', `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c shared_buffers=512MB -c max_wal_size=4GB -c maintenance_work_mem=256MB -c checkpoint_timeout=30min${trace ? TRACE_SETTINGS : ''}`,
  ]);
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    pgRepack: join(BIN, 'pg_repack'),
    stop() {
      if (trace) log(readFileSync(join(dir, 'server.log'), 'utf8'));
      try {
        asPostgres(join(BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
