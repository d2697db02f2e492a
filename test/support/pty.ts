/**
 * Runs the real `rpcl` binary on a pseudo-terminal (util-linux `script`), so that it sees a
 * terminal on stdin and stdout, and answers its question once the prompt appears.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot, type CliResult } from './cli.js';

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function runInPty(args: string[], opts: { home: string; answer?: { when: RegExp; with: string } }): Promise<CliResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PG')) env[k] = v;
  env.HOME = opts.home;
  const command = [process.execPath, join(projectRoot, 'bin', 'rpcl.js'), ...args].map(quote).join(' ');
  // -e: the command's exit code; -q: no banner; the typescript file is thrown away.
  const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  let answered = false;
  child.stdout.on('data', (d: Buffer) => {
    output += d.toString();
    if (opts.answer && !answered && opts.answer.when.test(output)) {
      answered = true;
      child.stdin.write(`${opts.answer.with}\r`);
    }
  });
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout: output, stderr: '' });
    });
  });
}
