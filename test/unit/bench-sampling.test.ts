import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/bench/options.js';
import { benchConfigToml, benchDefaults, parseRpclKeys, tomlValue } from '../../src/bench/rpcl-keys.js';
import { peakRate } from '../../src/bench/sampler.js';
import { toolRuns } from '../../src/bench/tools.js';
import { parseRpclVariants } from '../../src/bench/variants.js';

const MB = 1024 * 1024;
/** Samples every 100 ms of a counter growing at rateOf(t) bytes per second. */
function samples(seconds: number, rateOf: (t: number) => number) {
  const out = [{ at: 0, value: 0 }];
  for (let i = 1; i <= seconds * 10; i++) out.push({ at: i / 10, value: out[i - 1]!.value + rateOf((i - 1) / 10) / 10 });
  return out;
}

describe('peakRate', () => {
  it('is the steady rate of a steady counter', () => {
    expect(peakRate(samples(5, () => 10 * MB))).toBeCloseTo(10 * MB, 0);
  });

  it('finds a one-second burst inside a slow run', () => {
    const s = samples(6, (t) => (t >= 2 && t < 3 ? 50 * MB : 1 * MB));
    expect(peakRate(s)).toBeCloseTo(50 * MB, 0);
  });

  it('does not inflate a burst shorter than the window into a per-second rate', () => {
    // 5 MB in 0.2 s is 5 MB written within one second, not 25 MB/s.
    const s = samples(3, (t) => (t >= 1 && t < 1.2 ? 25 * MB : 0));
    expect(peakRate(s)).toBeCloseTo(5 * MB, 0);
  });

  it('counts a run shorter than the window over one window', () => {
    expect(peakRate([{ at: 10, value: 100 }, { at: 10.1, value: 150 }, { at: 10.3, value: 400 }])).toBe(300);
  });

  it('is 0 without two samples', () => {
    expect(peakRate([])).toBe(0);
    expect(peakRate([{ at: 1, value: 5 }])).toBe(0);
  });

  it('takes windows of at least a second when samples are late', () => {
    expect(peakRate([{ at: 0, value: 0 }, { at: 0.5, value: 10 }, { at: 2, value: 40 }, { at: 2.1, value: 40 }])).toBe(20);
  });
});

describe('--rpcl-keys', () => {
  it('types values as TOML reads them unquoted', () => {
    const keys = parseRpclKeys('copy_mode=chunked,chunk_time=0.5,max_wal_rate=20,analyze_tables=false,lock_timeout=2s,n=1_000,name="20"');
    expect([...keys]).toEqual([
      ['copy_mode', 'chunked'], ['chunk_time', 0.5], ['max_wal_rate', 20], ['analyze_tables', false], ['lock_timeout', '2s'], ['n', 1000], ['name', '20'],
    ]);
  });

  it('writes TOML values', () => {
    expect(tomlValue('a "b" \\ c')).toBe('"a \\"b\\" \\\\ c"');
    expect(tomlValue(0.5)).toBe('0.5');
    expect(tomlValue(true)).toBe('true');
  });

  it('keeps leading-zero and other non-TOML numbers strings', () => {
    expect([...parseRpclKeys('a=01,b=1.,c=inf')]).toEqual([['a', '01'], ['b', '1.'], ['c', 'inf']]);
  });

  it('refuses malformed pairs, repeated keys and the keys that point rpcl at the bench table', () => {
    expect(() => parseRpclKeys('copy_mode')).toThrow('is not key=value');
    expect(() => parseRpclKeys('a b=1')).toThrow('is not a config key');
    expect(() => parseRpclKeys('a=1,a=2')).toThrow('a is given twice');
    expect(() => parseRpclKeys('database=x')).toThrow('set by the bench');
    expect(() => parseRpclKeys('tables=x')).toThrow('set by the bench');
  });

  it('overrides the bench defaults in the config file, each key once', () => {
    const toml = benchConfigToml(
      { host: '127.0.0.1', port: 5433, user: 'postgres', database: 'bench_rpcl' },
      new Map([...benchDefaults(2), ...parseRpclKeys('parallel_sessions=1,copy_mode=chunked')]),
    );
    expect(toml).toBe(
      '[connections.bench]\nhost = "127.0.0.1"\nport = 5433\nuser = "postgres"\ndatabase = "bench_rpcl"\n' +
        'tables = ["public.table_for_repack"]\nsslmode = "disable"\nlock_timeout = "1s"\ncheck_time = 1\nparallel_sessions = 1\ncopy_mode = "chunked"\n',
    );
  });
});

describe('--rpcl-variants', () => {
  it('parses labelled key sets', () => {
    const v = parseRpclVariants('snapshot:copy_mode=snapshot;chunked:copy_mode=chunked;throttled:copy_mode=chunked,max_wal_rate=20;plain');
    expect(v.map((x) => [x.label, [...x.keys]])).toEqual([
      ['snapshot', [['copy_mode', 'snapshot']]],
      ['chunked', [['copy_mode', 'chunked']]],
      ['throttled', [['copy_mode', 'chunked'], ['max_wal_rate', 20]]],
      ['plain', []],
    ]);
  });

  it('refuses a variant without a label, a bad or repeated label, and an empty list', () => {
    expect(() => parseRpclVariants('copy_mode=chunked')).toThrow('has no label');
    expect(() => parseRpclVariants('a b:x=1')).toThrow('is not a label');
    expect(() => parseRpclVariants('a:x=1;a:x=2')).toThrow('label a is given twice');
    expect(() => parseRpclVariants(' ; ')).toThrow('no variant given');
  });

  it('expands rpcl into one run per variant, in --tools order, variant keys over the common ones', () => {
    const runs = toolRuns(['vacuum_full', 'rpcl', 'pg_repack'], parseRpclKeys('check_time=2,parallel_sessions=1'), parseRpclVariants('a:parallel_sessions=2;b'));
    expect(runs.map((r) => [r.label, [...r.keys]])).toEqual([
      ['vacuum_full', []],
      ['rpcl[a]', [['check_time', 2], ['parallel_sessions', 2]]],
      ['rpcl[b]', [['check_time', 2], ['parallel_sessions', 1]]],
      ['pg_repack', []],
    ]);
  });

  it('keeps one plain rpcl run without variants, and refuses rpcl options without rpcl', () => {
    expect(toolRuns(['rpcl'], new Map(), undefined).map((r) => r.label)).toEqual(['rpcl']);
    expect(() => toolRuns(['vacuum_full'], new Map(), parseRpclVariants('a'))).toThrow('need rpcl in --tools');
    expect(() => toolRuns(['rpcl', 'cluster' as never], new Map(), undefined)).toThrow('unknown --tools cluster');
  });
});

describe('bench command line', () => {
  it('--quick sets the defaults but keeps --tools and the rpcl options', () => {
    const o = parseArgs(['--quick', '--tools', 'rpcl,vacuum_full', '--rpcl-variants', 'a:parallel_sessions=1;b:parallel_sessions=2']);
    expect(o.rows).toEqual([100_000]);
    expect(o.writers).toEqual([2]);
    expect(o.baselineSeconds).toBe(3);
    expect(o.runs.map((r) => r.label)).toEqual(['rpcl[a]', 'rpcl[b]', 'vacuum_full']);
  });

  it('runs every tool once by default', () => {
    expect(parseArgs([]).runs.map((r) => r.label)).toEqual(['rpcl', 'pg_repack', 'vacuum_full', 'sql_floor']);
  });
});
