/** The table's indexes of every access method, and an index column's statistics target. */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { type Partitioning, withPartitionKey } from './partitioning.js';
import { qi } from './quote.js';

/** Creates the indexes; returns their names, unquoted. */
export function addIndexes(
  g: Gen,
  { tableName, ns, T }: Target,
  { keys }: Key,
  { has, v, nameQ, useDuring }: Columns,
  cons: string[],
  part: Partitioning | null,
): string[] {
  const { d, sql, since, comment, note, feature, major } = g;
  const indexes: string[] = [];
  const index = (name: string, def: string, tag: string) => {
    indexes.push(name);
    sql.push(`CREATE ${def.startsWith('UNIQUE') ? 'UNIQUE ' : ''}INDEX ${qi(name)} ON ${T} ${def.replace(/^UNIQUE /, '')};`);
    comment(`INDEX ${ns}.${qi(name)}`, note('index'));
    feature(tag);
  };
  if (d.chance(0.6)) index('v partial', `(${v}) WHERE ${v} > 500`, 'partial index');
  if (has.has('name') && d.chance(0.5)) index('name lower', `UNIQUE (${withPartitionKey(part, `lower(${nameQ})`)})`, 'unique expression index');
  if (d.chance(0.4)) index(`${tableName} expr`, `((${v} % 10), ${keys[0]} DESC NULLS LAST)`, 'expression index');
  if (has.has('varchar') && d.chance(0.6)) index('label include', `(label COLLATE "C" text_pattern_ops) INCLUDE (${v}) WITH (fillfactor = 60)`, 'INCLUDE index');
  if (has.has('jsonb')) {
    if (d.chance(0.6)) index('payload gin', `USING gin (payload${d.pick(['', ' jsonb_path_ops'])})`, 'gin jsonb');
    if (d.chance(0.4)) index('payload key', `((payload ->> 'k'))`, 'expression index (jsonb)');
  }
  if (has.has('text[]') && d.chance(0.6)) index('tags gin', 'USING gin (tags) WITH (fastupdate = off)', 'gin array');
  if (has.has('generated tsvector') && d.chance(0.7)) {
    if (d.chance(0.5)) index('doc gin', 'USING gin (doc)', 'gin tsvector');
    else if (major >= 13) index('doc gist', 'USING gist (doc tsvector_ops (siglen = 32))', 'gist opclass parameters');
  }
  if (useDuring && !cons.some((c) => c.includes('during_excl'))) index('during gist', 'USING gist (during)', 'gist range');
  if (has.has('tstzrange') && d.chance(0.6)) index('span gist', 'USING gist (span) WHERE (span IS NOT NULL)', 'gist tstzrange');
  if (has.has('timestamptz') && d.chance(0.6)) index('created brin', 'USING brin (created_at) WITH (pages_per_range = 8)', 'brin');
  if (has.has('bigint') && since(14, 0.4)) index('big brin multi', 'USING brin (n_big int8_minmax_multi_ops)', 'brin minmax_multi');
  if (has.has('uuid') && d.chance(0.5)) index('uid hash', 'USING hash (uid)', 'hash');
  if (has.has('code') && d.chance(0.3)) index('code hash', 'USING hash (code)', 'hash');
  if (has.has('inet') && d.chance(0.6)) index('ip spgist', 'USING spgist (ip inet_ops)', 'spgist');
  if (has.has('name') && d.chance(0.3)) index('name spgist', `USING spgist (${nameQ})`, 'spgist text');
  if (has.has('multirange') && d.chance(0.5)) index('slots gist', 'USING gist (slots)', 'gist multirange');
  if (d.chance(0.3)) {
    index('dedup off', `(${v}, ${keys[0]}) WITH (deduplicate_items = off)`, 'btree deduplicate_items');
  }
  const exprStatsIndex = indexes.find((i) => i.endsWith('expr') || i === 'payload key' || i === 'name lower');
  if (exprStatsIndex && d.chance(0.5)) {
    sql.push(`ALTER INDEX ${ns}.${qi(exprStatsIndex)} ALTER COLUMN 1 SET STATISTICS 300;`);
    feature('index column statistics target');
  }
  return indexes;
}
