/** Runs the real `rpcl` binary in a child process with its own HOME. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(projectRoot, 'bin', 'rpcl.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function makeHome(): string {
  return mkdtempSync(join(tmpdir(), 'rpcl-home-'));
}

/** Writes `~/.repcloud/config/<name>.toml` under `home` and returns its path. */
export function writeConfig(home: string, name: string, toml: string): string {
  const dir = join(home, '.repcloud', 'config');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${name}.toml`);
  writeFileSync(file, toml);
  return file;
}

export function runCli(args: string[], opts: { home: string; env?: Record<string, string> }): Promise<CliResult> {
  if (!existsSync(join(projectRoot, 'dist', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does it) before the integration tests');
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PG')) env[k] = v;
  Object.assign(env, { HOME: opts.home }, opts.env);
  return new Promise((resolveRun) => {
    execFile(process.execPath, [bin, ...args], { env, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolveRun({ code, stdout, stderr });
    });
  });
}
