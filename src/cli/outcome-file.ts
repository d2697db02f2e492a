/**
 * The outcome of a run that detached into the background: its exit code and one line per
 * table, in `<pid_dir>/<command>_<config>.outcome.json`, written when it ends, so that `status`
 * can tell a cron job's owner what happened without reading the log.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunOutcome {
  command: string;
  config: string;
  pid: number;
  startedAt: string;
  endedAt: string;
  exitCode: number;
  lines: string[];
}

/** Set by the detaching parent for its background child. */
export const DETACHED_ENV = 'RPCL_DETACHED';

export function outcomePath(pidDir: string, command: string, configName: string): string {
  return join(pidDir, `${command}_${configName}.outcome.json`);
}

export function writeOutcome(pidDir: string, o: RunOutcome): void {
  const path = outcomePath(pidDir, o.command, o.config);
  // Whole or not at all: a reader never sees half a file.
  writeFileSync(`${path}.tmp`, `${JSON.stringify(o, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

export function readOutcome(pidDir: string, command: string, configName: string): RunOutcome | null {
  try {
    return JSON.parse(readFileSync(outcomePath(pidDir, command, configName), 'utf8')) as RunOutcome;
  } catch {
    return null;
  }
}
