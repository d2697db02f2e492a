/**
 * What the benchmark runs: the tools, and the entries of the tables of results. rpcl may run
 * several times per cell, once per key set (--rpcl-variants), each run its own entry, so that
 * settings can be compared on the same data, server and writers in one run.
 */
import type { RpclKeys } from './rpcl-keys.js';
import type { RpclVariant } from './variants.js';

export type Tool = 'rpcl' | 'pg_repack' | 'vacuum_full' | 'sql_floor';
export const ALL_TOOLS: Tool[] = ['rpcl', 'pg_repack', 'vacuum_full', 'sql_floor'];

export interface ToolRun {
  tool: Tool;
  /** The entry's name in the tables: the tool, or `rpcl[<variant>]`. */
  label: string;
  /** rpcl only: the keys written into its connection section over the bench's own. */
  keys: RpclKeys;
}

/**
 * The runs of one cell, in --tools order, rpcl's variants where rpcl stands. The common keys
 * (--rpcl-keys) apply to every variant; a variant's own keys win over them.
 */
export function toolRuns(tools: Tool[], common: RpclKeys, variants: RpclVariant[] | undefined): ToolRun[] {
  const unknown = tools.filter((t) => !ALL_TOOLS.includes(t));
  if (unknown.length > 0) throw new Error(`unknown --tools ${unknown.join(', ')}: choose from ${ALL_TOOLS.join(', ')}`);
  // Options that would silently do nothing are refused, so a comparison is never run without the settings it was meant to compare.
  if (!tools.includes('rpcl') && (variants || common.size > 0)) throw new Error('--rpcl-keys and --rpcl-variants need rpcl in --tools');
  return tools.flatMap((tool): ToolRun[] => {
    if (tool !== 'rpcl') return [{ tool, label: tool, keys: new Map() }];
    if (!variants) return [{ tool, label: 'rpcl', keys: common }];
    return variants.map((v) => ({ tool, label: `rpcl[${v.label}]`, keys: new Map([...common, ...v.keys]) }));
  });
}
