/** Runs the real `rpcl` binary in a child process with its own HOME. */
import { execFile, spawn } from 'node:child_process';
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

export interface RunningCli {
  pid: number;
  output(): string;
  /** Resolves when the combined output matches, rejects after timeoutMs or if rpcl exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  done: Promise<CliResult>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts rpcl and lets the test act while it runs (block, change or kill at a known phase). */
export function spawnCli(args: string[], opts: { home: string; env?: Record<string, string> }): RunningCli {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PG')) env[k] = v;
  Object.assign(env, { HOME: opts.home }, opts.env);
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolveDone) => {
    child.on('close', (code, signal) => {
      exited = true;
      resolveDone({ code: code ?? (signal === 'SIGKILL' ? 137 : 1), stdout, stderr });
    });
  });
  return {
    pid: child.pid ?? -1,
    output: () => stdout + stderr,
    done,
    kill: (signal) => child.kill(signal),
    async waitFor(pattern, timeoutMs = 60_000) {
      const start = Date.now();
      while (!pattern.test(stdout + stderr)) {
        if (exited) throw new Error(`rpcl exited before printing ${pattern}:\n${stdout}${stderr}`);
        if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${pattern}:\n${stdout}${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
