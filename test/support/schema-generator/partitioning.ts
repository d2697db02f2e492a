/**
 * Partitioning: one seed in four makes the table a partitioned table, by range, list or hash on
 * a column of its key (the primary key must include the partition key), with 2 to 4
 * partitions, sometimes a DEFAULT one (range, list), sometimes one partitioned again (by hash),
 * sometimes one in the other schema; what a partitioned table cannot have (storage parameters,
 * NO INHERIT checks, exclusion constraints without the partition key) goes to a partition, and
 * one partition may get an index, a trigger or a check of its own. rpcl is told to repack the
 * partitioned table (each of its leaves) or one leaf.
 *
 * These draws come from a stream of their own, derived from the seed, so that a seed whose
 * table stays plain generates what it did before partitioning was drawn. What hangs off the
 * partitions is in partition-dependents.ts; the writers move rows between partitions wherever
 * a key change can (workload.ts).
 */
import fc from 'fast-check';
import type { Gen } from './context.js';
import { Draw } from './draw.js';
import type { Key, KeyColumn } from './key.js';
import type { Target } from './names.js';
import { qi } from './quote.js';

export interface Partition {
  /** Qualified and quoted. */
  name: string;
  /** FOR VALUES ... or DEFAULT. */
  bound: string;
  /** When it is partitioned itself: its PARTITION BY clause and its partitions. */
  sub: { by: string; parts: Partition[] } | null;
}

export interface Partitioning {
  /** The table's PARTITION BY clause. */
  by: string;
  /** Partition key columns of every level, quoted: every unique constraint must include them. */
  columns: string[];
  parts: Partition[];
  /** Every leaf, qualified and quoted, in creation order. */
  leaves: string[];
  /** The partitioned tables under the table. */
  middles: string[];
  /** The leaf that gets what the partitioned table cannot have and what only one partition has. */
  special: string;
  /** What rpcl is told to repack: the partitioned table (every leaf) or one leaf. */
  target: string;
  /**
   * Foreign keys to and from the table are drawn (only sometimes: rpcl refuses the partitions
   * of a partitioned table with any).
   */
  foreignKeys: boolean;
  /** Key column name to the key change that moves rows between partitions where the key's own does not. */
  keyChange: Map<string, string>;
  /** The partitioning's stream, for the draws after the table's (partition-dependents.ts). */
  d: Draw;
}

/**
 * The partitioning's own random stream for this seed. The salt was picked so that the seeds of
 * CI_SEEDS, chosen before tables were partitioned, stay plain (any salt gives about one seed in
 * four partitioned).
 */
function partitionDraws(seed: number): Draw {
  const [gen] = fc.sample(fc.gen(), { seed: (seed * 7919 + 0x5f43) | 0, numRuns: 1 });
  if (gen === undefined) throw new Error('fast-check gave no generator');
  return new Draw(gen);
}

/** A value splitting the loaded keys at `frac` (of the first 1500 rows, as every load has them). */
function cut(k: KeyColumn, frac: number): string {
  if (k.name === 'tenant') return String(1 + Math.round(7 * frac));
  if (k.at === null) return `'${Math.floor(16 * frac).toString(16)}0000000-0000-0000-0000-000000000000'`; // uuid
  return k.at(Math.max(1, Math.round(1500 * frac)));
}

function groups<T>(xs: T[], n: number): T[][] {
  return Array.from({ length: n }, (_, i) => xs.slice(Math.floor((i * xs.length) / n), Math.floor(((i + 1) * xs.length) / n)));
}

export function drawPartitioning(g: Gen, { tableName, ns, other, T }: Target, { keyCols }: Key): Partitioning | null {
  const d = partitionDraws(g.seed);
  if (!d.chance(0.25)) return null;
  const { feature } = g;
  const col = d.pick(keyCols);
  const c = qi(col.name);
  const listable = col.name === 'tenant' || col.at !== null;
  // rpcl refuses hash partitions on a collatable key (ATTACH cannot prove their bound from a
  // CHECK): range instead, drawn the same way so that the stream stays as it was.
  const drawn = d.pick(listable ? (['range', 'list', 'hash'] as const) : (['range', 'hash'] as const));
  const method = drawn === 'hash' && collatable(col) ? 'range' : drawn;
  const n = d.int(2, 4);
  // List partitions of a key that keeps growing need a DEFAULT one for the rest.
  const withDefault = method === 'list' && col.name !== 'tenant' ? true : method !== 'hash' && d.chance(0.4);
  const style = d.pick(['_p', ' part ']);
  const elsewhere = d.chance(0.15) ? d.int(0, n - 1) : -1;

  const bounds: string[] = [];
  /** Range partitions: the share of the loaded keys (first 1500 rows) below each one's middle. */
  const centres: number[] = [];
  if (method === 'hash') {
    for (let i = 0; i < n; i++) bounds.push(`FOR VALUES WITH (MODULUS ${n}, REMAINDER ${i})`);
  } else if (method === 'range') {
    const ranged = withDefault ? n - 1 : n;
    const shares = withDefault ? ranged + 1 : ranged;
    const cuts = Array.from({ length: withDefault ? ranged : ranged - 1 }, (_, i) => cut(col, (i + 1) / shares));
    for (let i = 0; i < ranged; i++) {
      bounds.push(`FOR VALUES FROM (${i === 0 ? 'MINVALUE' : cuts[i - 1]}) TO (${cuts[i] ?? 'MAXVALUE'})`);
      centres.push((i + 0.5) / shares);
    }
  } else if (col.name === 'tenant') {
    for (const values of groups([1, 2, 3, 4, 5, 6, 7], n).slice(0, withDefault ? n - 1 : n)) bounds.push(`FOR VALUES IN (${values.join(', ')})`);
  } else {
    // Loaded keys of rows the bloat keeps (g a multiple of 3), 100 to a partition.
    for (let i = 0; i < n - 1; i++) {
      bounds.push(`FOR VALUES IN (${Array.from({ length: 100 }, (_, j) => col.at!(3 * (i + 1 + (n - 1) * j))).join(', ')})`);
    }
  }
  if (withDefault) bounds.push('DEFAULT');

  const schemaOf = (i: number) => (i === elsewhere ? other : ns);
  const parts: Partition[] = bounds.map((bound, i) => ({
    name: `${schemaOf(i)}.${qi(`${tableName}${style}${bound === 'DEFAULT' ? 'default' : i + 1}`)}`,
    bound,
    sub: null,
  }));
  const columns = [c];
  const twoLevels = d.chance(0.3);
  if (twoLevels) {
    // One partition (not the DEFAULT one) partitioned again, in two: by hash, or by range at
    // its middle. Not by hash on the column of a hash partitioning: the same hash would leave
    // one half empty.
    const i = d.int(0, parts.length - (withDefault ? 2 : 1));
    const p = parts[i]!;
    const subKey = d.pick(keyCols);
    const subCol = qi(subKey.name);
    const sameCol = subCol === c;
    const subDrawn = sameCol && method !== 'list' ? 'range' : sameCol ? 'hash' : d.pick(['hash', 'range'] as const);
    const subMethod = subDrawn === 'hash' && collatable(subKey) ? 'range' : subDrawn;
    const mid = cut(subKey, sameCol && method === 'range' ? centres[i]! : 0.5);
    const subBounds = subMethod === 'hash'
      ? [0, 1].map((r) => `FOR VALUES WITH (MODULUS 2, REMAINDER ${r})`)
      : [`FOR VALUES FROM (MINVALUE) TO (${mid})`, `FOR VALUES FROM (${mid}) TO (MAXVALUE)`];
    p.sub = {
      by: `PARTITION BY ${subMethod.toUpperCase()} (${subCol})`,
      parts: subBounds.map((bound, r) => ({ name: `${schemaOf(i)}.${qi(`${tableName}${style}${i + 1} ${'ab'[r]}`)}`, bound, sub: null })),
    };
    if (!columns.includes(subCol)) columns.push(subCol);
    feature(`partitioned partition (two levels, by ${subMethod})`);
  }
  const leaves = parts.flatMap((p) => (p.sub ? p.sub.parts.map((s) => s.name) : [p.name]));
  const middles = parts.filter((p) => p.sub).map((p) => p.name);
  const special = d.pick(leaves);
  const target = d.chance(0.5) ? T : d.pick(leaves);
  const foreignKeys = d.chance(0.3);
  const keyChange = new Map<string, string>();
  // The tenant's own key change keeps it; a partition by tenant needs it changed to move rows.
  if (columns.includes('tenant')) keyChange.set('tenant', '(1 + tenant % 7)::smallint');

  feature(`partitioned by ${method} on ${col.name === 'tenant' || col.name === 'Line No' ? col.name : `a ${col.refType.split(' ')[0]} key`}`);
  feature(`${n} partitions`);
  if (withDefault) feature(`DEFAULT partition (${method})`);
  if (elsewhere >= 0) feature('partition in another schema');
  feature(target === T ? 'repack a partitioned table (every leaf)' : `repack one leaf${target === parts.at(-1)?.name && withDefault ? ' (the DEFAULT partition)' : ''}`);
  return { by: `PARTITION BY ${method.toUpperCase()} (${c})`, columns, parts, leaves, middles, special, target, foreignKeys, keyChange, d };
}

function collatable(k: KeyColumn): boolean {
  return /^(text|varchar|character|char|name)\b/i.test(k.refType);
}

/** The column list of a unique constraint or index, with the partition key columns it lacks. */
export function withPartitionKey(part: Partitioning | null, cols: string): string {
  if (part === null) return cols;
  const have = cols.split(', ');
  return [...have, ...part.columns.filter((c) => !have.includes(c))].join(', ');
}

/** The partitions, after CREATE TABLE: storage parameters go to the leaves. */
export function createPartitions(g: Gen, { T }: Target, part: Partitioning, withOpts: string[]): void {
  const create = (parent: string, p: Partition) => {
    const leafOpts = p.sub === null && withOpts.length > 0 ? ` WITH (${withOpts.join(', ')})` : '';
    g.sql.push(`CREATE TABLE ${p.name} PARTITION OF ${parent} ${p.bound}${p.sub ? ` ${p.sub.by}` : ''}${leafOpts};`);
    for (const s of p.sub?.parts ?? []) create(p.name, s);
  };
  for (const p of part.parts) create(T, p);
}

/** The refusals rpcl documents for partitions, for what this schema has. */
export function partitionRefusals(part: Partitioning | null, has: { fkIn: boolean; fkOut: boolean; identity: boolean }): { feature: string; pattern: RegExp }[] {
  if (part === null) return [];
  const out: { feature: string; pattern: RegExp }[] = [];
  if (has.fkIn) out.push({ feature: 'fk in to a partitioned table', pattern: /refused: foreign key .* references its partitioned table/ });
  if (has.fkOut) out.push({ feature: 'fk out of a partitioned table', pattern: /refused: its partitioned table .* has foreign key/ });
  if (has.identity) out.push({ feature: 'identity column of a partition', pattern: /refused: it is a partition with an identity column/ });
  return out;
}
