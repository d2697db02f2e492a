/** Hand-built table facts for the planner's unit tests: a composite key, quoted names. */
import type { ColumnFact, IndexFact, TableFacts } from '../../src/inspect/facts.js';

export const col = (name: string, type: string, extra: Partial<ColumnFact> = {}): ColumnFact => ({
  name, attnum: 0, type, collation: null, notNull: true, generated: '', identity: '', statisticsTarget: null, options: [], comment: null, ...extra,
});

export const index = (name: string, extra: Partial<IndexFact> = {}): IndexFact => ({
  oid: 1, name, definition: '', definitionTail: ' USING btree (v)', unique: false, tablespace: null, constraint: null,
  comment: null, statisticsTargets: [], isClustered: false, isReplicaIdentity: false, valid: true, bytes: 8192, ...extra,
});

export function facts(extra: Partial<TableFacts> = {}): TableFacts {
  return {
    oid: 4242, schema: 'Sales', name: 'Order "Lines"', relkind: 'r', persistence: 'p', isPartition: false, partition: null,
    inheritsFrom: [], inheritedBy: [], owner: 'app', canActAsOwner: true, canBypassRls: false, tablespace: null, relfilenode: 1,
    reloptions: [], toastReloptions: [], replicaIdentity: 'd', rowSecurity: false, forceRowSecurity: false, comment: null,
    columns: [
      col('order', 'integer'),
      col('Line No', 'integer'),
      col('note', 'text', { notNull: false, collation: { schema: 'pg_catalog', name: 'C' } }),
      col('total', 'numeric', { generated: 's' }),
    ],
    key: { kind: 'primary', indexName: 'pk', columns: ['order', 'Line No'] },
    indexes: [
      index('pk', { constraint: { name: 'pk', type: 'p', definition: 'PRIMARY KEY ("order", "Line No")', comment: null, deferrable: false, deferred: false }, unique: true, definitionTail: ' USING btree ("order", "Line No")' }),
      index('note idx', { definitionTail: ' USING btree (note) WHERE (note IS NOT NULL)' }),
    ],
    notValidConstraints: [], identitySequences: [],
    incomingForeignKeys: [], outgoingForeignKeys: [], views: [], publications: [], ownedSequences: [], grants: { items: null, columns: [], otherGrantors: [] },
    unsupportedDependents: [], estimatedRows: 10, totalBytes: 8192, fingerprint: 'x',
    ...extra,
  };
}
