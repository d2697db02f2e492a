/** The table's replica identity, and a publication of it (whole, filtered, or its whole schema). */
import type { Columns } from './columns.js';
import type { Gen } from './context.js';
import type { ForeignKeysOut } from './foreign-keys-out.js';
import type { Key } from './key.js';
import type { Target } from './names.js';
import { partitionsReplicaIdentity } from './partition-dependents.js';
import type { Partitioning } from './partitioning.js';
import { qi } from './quote.js';

export function addPublication(
  g: Gen,
  { ns, T }: Target,
  { keys }: Key,
  { has, v }: Columns,
  { useParent }: ForeignKeysOut,
  cons: string[],
  part: Partitioning | null,
): void {
  const { d, sql, comment, note, feature, seed, major } = g;
  let replicaIdentity: 'default' | 'full' | 'index' = 'default';
  const uniqueNotNullIndex = cons.some((c) => c.startsWith('CONSTRAINT code_unique UNIQUE') && !c.includes('DEFERRABLE')) ? 'code_unique' : null;
  const riChoice = d.pick(['default', 'full', 'index'] as const);
  const usePublication = d.chance(0.5);
  const pubKind = d.pick(['table', 'filtered', 'schema'] as const);
  // PostgreSQL 18 refuses UPDATE and DELETE on a published table whose replica identity (FULL)
  // holds generated columns it does not publish; virtual ones are never published.
  const generated18 = major >= 18 && (has.has('generated stored') || has.has('generated tsvector'));
  const fullBlocked = usePublication && major >= 18 && has.has('generated virtual');
  if ((riChoice === 'full' && !fullBlocked) || (riChoice === 'index' && uniqueNotNullIndex)) {
    replicaIdentity = riChoice;
    sql.push(`ALTER TABLE ${T} REPLICA IDENTITY ${riChoice === 'full' ? 'FULL' : `USING INDEX ${uniqueNotNullIndex}`};`);
    feature(`replica identity ${riChoice}`);
    // Not inherited: the partitions get theirs (UPDATE and DELETE check the partition's).
    if (part) sql.push(partitionsReplicaIdentity(part, ns, riChoice === 'full' ? null : uniqueNotNullIndex));
  }
  if (usePublication) {
    const pub = qi(`rs pub ${seed}`);
    const opts = replicaIdentity === 'full' && generated18 ? ['publish_generated_columns = stored'] : [];
    const withOpts = (more: string[]) => ([...more, ...opts].length ? ` WITH (${[...more, ...opts].join(', ')})` : '');
    if (pubKind === 'schema' && major >= 15) {
      sql.push(`CREATE PUBLICATION ${pub} FOR TABLES IN SCHEMA ${ns}${withOpts([])};`);
      feature('publication FOR TABLES IN SCHEMA');
    } else if (pubKind === 'filtered' && major >= 15) {
      const riCols = replicaIdentity === 'index' ? ['code', ...(part?.columns ?? [])] : replicaIdentity === 'full' ? null : keys;
      const filterCol = riCols ? riCols[0]! : v;
      const colList = riCols ? ` (${[...new Set([...riCols, v])].join(', ')})` : '';
      // A row filter on a partitioned table needs publish_via_partition_root.
      const via = part ? ['publish_via_partition_root = true'] : [];
      sql.push(`CREATE PUBLICATION ${pub} FOR TABLE ${T}${colList} WHERE (${filterCol} IS NOT NULL)${withOpts([`publish = 'insert, update, delete'`, ...via])};`);
      feature('publication with row filter and column list');
    } else {
      sql.push(`CREATE PUBLICATION ${pub} FOR TABLE ${T}${useParent ? `, ${ns}.parent` : ''}${withOpts([])};`);
      feature('publication');
    }
    if (opts.length > 0) feature('publish_generated_columns');
    comment(`PUBLICATION ${pub}`, note('publication'));
  }
}
