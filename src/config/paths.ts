/**
 * The `~/.repcloud` layout repcloud users know: config/, logs/, pid/, made on first run
 * (mode 0700: config files hold passwords) with the example config copied into config/.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function homeDir(): string {
  return process.env.HOME || homedir();
}

export function repcloudDir(home: string): string {
  return join(home, '.repcloud');
}

export const exampleConfigSource = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'config-example.toml',
);

/** Creates what is missing, never overwrites; returns the paths it created. */
export function ensureLayout(home: string): string[] {
  const root = repcloudDir(home);
  const created: string[] = [];
  for (const dir of [root, join(root, 'config'), join(root, 'logs'), join(root, 'pid')]) {
    if (!existsSync(dir)) {
      mkdirSync(dir, { mode: 0o700 });
      chmodSync(dir, 0o700); // mkdir's mode is filtered by the umask
      created.push(dir);
    }
  }
  const example = join(root, 'config', 'config-example.toml');
  if (!existsSync(example) && existsSync(exampleConfigSource)) {
    copyFileSync(exampleConfigSource, example);
    created.push(example);
  }
  return created;
}

export interface ConfigLocation {
  /** Used in log and pid file names: `repack_<name>.log`. */
  name: string;
  file: string;
}

/**
 * `--config` accepts a bare name (`prod`), a file name (`prod.toml`), both looked up in
 * `~/.repcloud/config/`, or a path (anything with a slash).
 */
export function locateConfig(arg: string, home: string): ConfigLocation {
  const isPath = arg.includes('/') || isAbsolute(arg);
  const file = isPath
    ? resolve(arg)
    : join(repcloudDir(home), 'config', arg.endsWith('.toml') ? arg : `${arg}.toml`);
  return { name: basename(file).replace(/\.toml$/, ''), file };
}

export function expandHome(path: string, home: string): string {
  if (path === '~') return home;
  if (path.startsWith('~/')) return join(home, path.slice(2));
  return path;
}
