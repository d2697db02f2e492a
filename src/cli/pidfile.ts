/**
 * One pid file per command and config (`<pid_dir>/<command>_<config>.pid`): a second run of
 * the same command and config is refused while the first lives; a file left by a process that
 * is gone is replaced with a warning.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AlreadyRunningError } from '../errors.js';

export function pidFilePath(pidDir: string, command: string, configName: string): string {
  return join(pidDir, `${command}_${configName}.pid`);
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export interface PidFile {
  path: string;
  release(): void;
}

/**
 * Creates the file with O_EXCL so two racing starts cannot both win.
 * `onStale` is told about a replaced stale file.
 */
export function acquirePidFile(
  path: string,
  command: string,
  onStale: (stalePid: number | undefined) => void,
): PidFile {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return { path, release: () => releasePidFile(path) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = readPid(path);
    if (pid !== undefined && pid !== process.pid && isProcessAlive(pid)) {
      throw new AlreadyRunningError(
        `${command} is already running for this config with pid ${pid} (pid file ${path}). ` +
          `Wait for it to finish or stop it with the matching stop command; ` +
          `delete the pid file only if that pid is not rpcl.`,
      );
    }
    onStale(pid);
    try {
      unlinkSync(path);
    } catch {
      // Another starter removed it first; the next O_EXCL attempt decides.
    }
  }
  throw new AlreadyRunningError(`could not take the pid file ${path}: another rpcl keeps recreating it`);
}

/** Removes the file only if it is still ours. */
function releasePidFile(path: string): void {
  if (readPid(path) === process.pid) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}
