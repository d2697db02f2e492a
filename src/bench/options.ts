/** The benchmark's command line (see main.ts for what each option does). */
import { DEFAULT_WRITER_RATE } from '../demo/writers.js';
import { parseRpclKeys } from './rpcl-keys.js';
import { ALL_TOOLS, toolRuns, type Tool, type ToolRun } from './tools.js';
import { parseRpclVariants } from './variants.js';

export interface Options {
  /** rpcl's parallel_sessions. */
  parallel: number;
  /** Transactions per second per writer; 0 = back to back. */
  rate: number;
  /** The seed's EXCLUDE (excluded WITH =) replaced by a UNIQUE index on the same column. */
  uniqueForExclude: boolean;
  rows: number[];
  writers: number[];
  /** What runs in each cell, in order: the tools, rpcl once per variant. */
  runs: ToolRun[];
  baselineSeconds: number;
  /** Runs of each tool in each cell, interleaved; summaries and ratios use their medians. */
  repeat: number;
}

export function parseArgs(argv: string[]): Options {
  const get = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number) : d);
  const repeat = Number(get('repeat') ?? 1);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat must be a whole number of at least 1 (got ${get('repeat')})`);
  // --quick only changes the defaults, so it combines with --tools and the rpcl options.
  const quick = argv.includes('--quick');
  const tools = (get('tools')?.split(',') as Tool[] | undefined) ?? ALL_TOOLS;
  const rpclKeys = get('rpcl-keys');
  const rpclVariants = get('rpcl-variants');
  return {
    parallel: Number(get('parallel') ?? 2),
    rate: Number(get('rate') ?? DEFAULT_WRITER_RATE),
    uniqueForExclude: argv.includes('--unique-for-exclude'),
    repeat,
    rows: list(get('rows'), quick ? [100_000] : [1_000_000, 10_000_000]),
    writers: list(get('writers'), quick ? [2] : [0, 2, 4]),
    runs: toolRuns(tools, rpclKeys === undefined ? new Map() : parseRpclKeys(rpclKeys), rpclVariants === undefined ? undefined : parseRpclVariants(rpclVariants)),
    baselineSeconds: Number(get('baseline') ?? (quick ? 3 : 5)),
  };
}
