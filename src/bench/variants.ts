/**
 * --rpcl-variants: several key sets for rpcl in one benchmark run,
 * `label:key=value,...;label:key=value,...`. A label alone (no colon) is a run with the
 * bench's defaults, so a variant can be compared with rpcl as it ships.
 */
import { parseRpclKeys, type RpclKeys } from './rpcl-keys.js';

export interface RpclVariant {
  label: string;
  keys: RpclKeys;
}

// Labels end up inside `rpcl[...]` in aligned tables, so they stay short words.
const LABEL = /^[A-Za-z0-9_.+-]+$/;

export function parseRpclVariants(text: string): RpclVariant[] {
  const variants: RpclVariant[] = [];
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const colon = part.indexOf(':');
    if (colon < 0 && part.includes('=')) throw new Error(`--rpcl-variants: "${part}" has no label (label:key=value,...)`);
    const label = (colon < 0 ? part : part.slice(0, colon)).trim();
    if (!LABEL.test(label)) throw new Error(`--rpcl-variants: "${label}" is not a label (letters, digits, _ . + -)`);
    if (variants.some((v) => v.label === label)) throw new Error(`--rpcl-variants: label ${label} is given twice`);
    const keys = colon < 0 ? new Map() : parseRpclKeys(part.slice(colon + 1), `--rpcl-variants ${label}`);
    variants.push({ label, keys });
  }
  if (variants.length === 0) throw new Error('--rpcl-variants: no variant given');
  return variants;
}
