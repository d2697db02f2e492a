/**
 * Long-running commands: stopping on SIGINT/SIGTERM (what the stop commands send), the
 * replay loop, the stop commands themselves, and detaching into the background.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ExitCode, RpclError } from '../errors.js';
import { syncPrepared } from '../execute/sync.js';
import { logEvent } from '../report/log-events.js';
import { logFileName } from '../report/logger.js';
import { isProcessAlive, pidFilePath, readPid } from './pidfile.js';
import { DETACHED_ENV } from './outcome-file.js';
import type { Runtime } from './runtime.js';

export interface StopSignal {
  stopped(): boolean;
  /** Sleeps up to ms, waking at once when a stop arrives. */
  wait(ms: number): Promise<void>;
  dispose(): void;
}

export function onStopSignals(rt: Runtime): StopSignal {
  let stopped = false;
  let wake: () => void = () => undefined;
  const handler = (signal: string) => {
    rt.log.warning(`${signal} received: stopping after the current step`);
    stopped = true;
    wake();
  };
  const int = () => handler('SIGINT');
  const term = () => handler('SIGTERM');
  process.on('SIGINT', int);
  process.on('SIGTERM', term);
  return {
    stopped: () => stopped,
    wait: (ms) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
        if (stopped) wake();
      }),
    dispose() {
      process.off('SIGINT', int);
      process.off('SIGTERM', term);
    },
  };
}

/** replay_data: brings every prepared copy up to date, every check_time seconds, until stopped. */
export async function replayLoop(rt: Runtime, stop: StopSignal): Promise<number> {
  rt.log.info('replaying into prepared copies until stopped (stop_replay, or Ctrl-C)');
  // On the terminal too, whatever log_dest is: what it does and how it ends.
  process.stdout.write(`replay_data: keeping the prepared copies of config ${rt.config.name} in sync until stopped (rpcl stop_replay, or Ctrl-C)\n`);
  while (!stop.stopped()) {
    for (const conn of rt.connections) {
      const log = rt.log.child({ connection: conn.name });
      try {
        for (const r of await syncPrepared(conn, rt.home, rt.log, (e) => logEvent(rt.log, e))) {
          if (r.skipped) log.info(`${r.table}: skipped: ${r.skipped}`);
          else if (r.replayed > 0) log.info(`${r.table}: replayed ${r.replayed} log rows into the prepared copy`);
        }
      } catch (err) {
        log.error(`replay failed, retrying at the next check: ${(err as Error).message}`);
      }
    }
    await stop.wait(Math.min(...rt.connections.map((c) => c.checkTimeSeconds)) * 1000);
  }
  process.stdout.write('replay_data: stopped; the prepared copies stay in sync through capture until repack_tables swaps them\n');
  return ExitCode.ok;
}

/** replay_data and prepare_repack --start-replay: the replay loop, stopped by SIGINT/SIGTERM. */
export async function replayUntilStopped(rt: Runtime): Promise<number> {
  const stop = onStopSignals(rt);
  try {
    return await replayLoop(rt, stop);
  } finally {
    stop.dispose();
  }
}

/** stop_repack, stop_prepare, stop_replay: SIGTERM to the run named in the pid file, then wait. */
export async function stopRun(rt: Runtime, command: string, timeoutMs = 120_000): Promise<number> {
  const path = pidFilePath(rt.config.pidDir, command, rt.config.name);
  const pid = readPid(path);
  if (pid === undefined || !isProcessAlive(pid)) {
    process.stdout.write(`no ${command} is running for config ${rt.config.name} (pid file ${path})\n`);
    return ExitCode.ok;
  }
  process.kill(pid, 'SIGTERM');
  rt.log.info(`asked ${command} (pid ${pid}) to stop`);
  const started = Date.now();
  while (isProcessAlive(pid)) {
    if (Date.now() - started > timeoutMs) {
      throw new RpclError(`${command} (pid ${pid}) did not stop within ${timeoutMs / 1000} s; look at its log`, ExitCode.failed);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write(`${command} (pid ${pid}) stopped after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return ExitCode.ok;
}

/**
 * Starts the same command again, detached, in the foreground mode, and says where to look.
 * The child takes the pid file; a live one is refused here, before detaching.
 */
export function detach(rt: Runtime, command: string, argv: string[]): number {
  const pidPath = pidFilePath(rt.config.pidDir, command, rt.config.name);
  const running = readPid(pidPath);
  if (running !== undefined && isProcessAlive(running)) {
    throw new RpclError(`${command} is already running for this config with pid ${running} (pid file ${pidPath})`, ExitCode.alreadyRunning);
  }
  const child = spawn(process.execPath, [process.argv[1]!, ...argv.filter((a) => a !== '--background'), '--foreground'], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, [DETACHED_ENV]: '1' },
  });
  child.unref();
  process.stdout.write(
    `${command} runs in the background (pid ${child.pid}).\n` +
      `  log:      ${join(rt.config.logging.logDir, logFileName(rt.config.name))}\n` +
      `  pid file: ${pidPath}\n` +
      `  outcome:  rpcl status --config ${rt.config.name} (when it has ended, with its exit code)\n` +
      `  stop it:  rpcl ${command === 'repack_tables' || command === 'repack_indexes' ? 'stop_repack' : command === 'prepare_repack' ? 'stop_prepare' : 'stop_replay'} --config ${rt.config.name}\n`,
  );
  return ExitCode.ok;
}
