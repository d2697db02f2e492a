import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquirePidFile, pidFilePath } from '../../src/cli/pidfile.js';
import { AlreadyRunningError } from '../../src/errors.js';

const dir = () => mkdtempSync(join(tmpdir(), 'rpcl-pid-'));

describe('pid files', () => {
  it('are named <command>_<config>.pid', () => {
    expect(pidFilePath('/p', 'repack_tables', 'nightly')).toBe('/p/repack_tables_nightly.pid');
  });

  it('hold our pid and are removed on release', () => {
    const path = join(dir(), 'x.pid');
    const pid = acquirePidFile(path, 'repack_tables', () => undefined);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    pid.release();
    expect(existsSync(path)).toBe(false);
  });

  it('refuse a second run while the first is alive, naming its pid', () => {
    const path = join(dir(), 'x.pid');
    const parentPid = process.ppid;
    writeFileSync(path, `${parentPid}\n`);
    expect(() => acquirePidFile(path, 'repack_tables', () => undefined)).toThrow(AlreadyRunningError);
    expect(() => acquirePidFile(path, 'repack_tables', () => undefined)).toThrow(`with pid ${parentPid}`);
    expect(readFileSync(path, 'utf8')).toBe(`${parentPid}\n`);
  });

  it('replace a stale file and say so', () => {
    const path = join(dir(), 'x.pid');
    writeFileSync(path, '2147483646\n');
    const stale: (number | undefined)[] = [];
    const pid = acquirePidFile(path, 'repack_tables', (p) => stale.push(p));
    expect(stale).toEqual([2147483646]);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    pid.release();
  });

  it('do not remove a file another process has taken over', () => {
    const path = join(dir(), 'x.pid');
    const pid = acquirePidFile(path, 'repack_tables', () => undefined);
    writeFileSync(path, '12345\n');
    pid.release();
    expect(readFileSync(path, 'utf8')).toBe('12345\n');
  });
});
