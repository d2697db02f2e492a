/**
 * Log lines as a DBA or a log shipper reads them: ISO 8601 timestamps with the UTC offset, the
 * text and JSON formats, the same in the file and on the console, passwords never written, and
 * entries marked FILE_ONLY kept off the console (the CLI prints those itself).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { closeLogger, createLogger, FILE_ONLY, isoTimestamp, logFileName, type LoggerOptions } from '../../src/report/logger.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/;
const MESSAGE = Symbol.for('message');

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A logger to a fresh directory and to a captured console; resolves the lines of both. */
function capture(opts: Partial<LoggerOptions>) {
  const logDir = mkdtempSync(join(tmpdir(), 'rpcl-log-'));
  dirs.push(logDir);
  const log = createLogger({ configName: 'unit', level: 'debug', logDir, daysKeep: 1, console: true, secrets: ['hunter2'], ...opts });
  const consoleLines: string[] = [];
  const transport = log.transports.find((t) => t instanceof winston.transports.Console);
  if (transport) {
    transport.log = (info: Record<string | symbol, unknown>, next: () => void) => {
      consoleLines.push(String(info[MESSAGE]));
      next();
    };
  }
  return {
    log,
    async lines() {
      await closeLogger(log);
      const file = readFileSync(join(logDir, logFileName('unit')), 'utf8').split('\n').filter((l) => l !== '');
      return { file, console: consoleLines };
    },
  };
}

describe('timestamps', () => {
  const tz = process.env.TZ;
  afterEach(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });

  it.each([
    ['UTC', '2026-12-01T10:59:20.423+00:00'],
    ['Asia/Kolkata', '2026-12-01T16:29:20.423+05:30'],
    ['America/New_York', '2026-12-01T05:59:20.423-05:00'],
    ['America/St_Johns', '2026-12-01T07:29:20.423-03:30'],
  ])('are ISO 8601 local time with the offset (%s)', (zone, expected) => {
    process.env.TZ = zone;
    expect(isoTimestamp(new Date('2026-12-01T10:59:20.423Z'))).toBe(expected);
  });

  it('pad milliseconds and small fields', () => {
    process.env.TZ = 'UTC';
    expect(isoTimestamp(new Date('2026-01-02T03:04:05.006Z'))).toBe('2026-01-02T03:04:05.006+00:00');
  });
});

describe('text format', () => {
  it('starts every line, in the file and on the console, with the ISO timestamp', async () => {
    const c = capture({});
    c.log.info('created the helper schema rpcl');
    c.log.warning('refused: no key', { connection: 'prod', table: 'public.orders' });
    const { file, console } = await c.lines();
    expect(file).toEqual(console);
    expect(file).toHaveLength(2);
    const [ts1, rest1] = [file[0]!.slice(0, 29), file[0]!.slice(29)];
    expect(ts1).toMatch(ISO);
    expect(rest1).toBe(' INFO created the helper schema rpcl');
    expect(file[1]!.slice(0, 29)).toMatch(ISO);
    expect(file[1]!.slice(29)).toBe(' WARNING [prod public.orders] refused: no key');
  });

  it('never writes a known password', async () => {
    const c = capture({});
    c.log.error('server said: password "hunter2" is wrong');
    const { file, console } = await c.lines();
    expect([...file, ...console].join('\n')).not.toContain('hunter2');
    expect(file[0]).toContain('password "********" is wrong');
  });
});

describe('json format', () => {
  it('writes one JSON object per line: timestamp, level, message, then connection, table, phase, event', async () => {
    const c = capture({ format: 'json' });
    c.log.info('phase copy', { connection: 'prod', table: 'public.orders', oid: 16384, phase: 'copy', event: 'phase' });
    c.log.warning('stale pid file replaced');
    c.log.error('failed: password hunter2 rejected', { connection: 'prod', table: 'public.orders' });
    const { file, console } = await c.lines();
    expect(console).toEqual(file);
    const rows = file.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r.timestamp).toMatch(ISO);
    expect(Object.keys(rows[0]!)).toEqual(['timestamp', 'level', 'message', 'connection', 'table', 'phase', 'event', 'oid']);
    expect(rows[0]).toMatchObject({ level: 'info', message: 'phase copy', connection: 'prod', table: 'public.orders', phase: 'copy', event: 'phase', oid: 16384 });
    expect(rows[1]).toEqual({ timestamp: rows[1]!.timestamp, level: 'warning', message: 'stale pid file replaced' });
    expect(rows[2]).toEqual({
      timestamp: rows[2]!.timestamp, level: 'error', message: 'failed: password ******** rejected', connection: 'prod', table: 'public.orders',
    });
  });

  it('keeps a multi-line message on one line', async () => {
    const c = capture({ format: 'json', console: false });
    c.log.error('cannot connect:\n  - first\n  - second');
    const { file } = await c.lines();
    expect(file).toHaveLength(1);
    expect((JSON.parse(file[0]!) as { message: string }).message).toBe('cannot connect:\n  - first\n  - second');
  });
});

describe('FILE_ONLY', () => {
  it('goes to the file but not to the console, and is not written as a field', async () => {
    for (const format of ['text', 'json'] as const) {
      const c = capture({ format });
      c.log.info('on both');
      c.log.error('printed by the CLI itself', FILE_ONLY);
      const { file, console } = await c.lines();
      expect(file).toHaveLength(2);
      expect(file[1]).toContain('printed by the CLI itself');
      expect(file[1]).not.toContain('fileOnly');
      expect(console).toHaveLength(1);
      expect(console[0]).toContain('on both');
    }
  });
});
