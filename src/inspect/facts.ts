/** Plain facts about one table, read from the catalog. No SQL text is built from them here. */
import type { ObjectAcl } from './acl.js';

export interface ColumnFact {
  name: string;
  attnum: number;
  /** format_type(atttypid, atttypmod): used only to declare log columns of key columns. */
  type: string;
  /** Collation name to declare on a log column, quoted-ready parts; null for the type's default. */
  collation: { schema: string; name: string } | null;
  notNull: boolean;
  /** '' = ordinary, 's' = stored generated, 'v' = virtual generated (PostgreSQL 18). */
  generated: '' | 's' | 'v';
  /** '' = none, 'a' = GENERATED ALWAYS, 'd' = BY DEFAULT. */
  identity: '' | 'a' | 'd';
  statisticsTarget: number | null;
  /** attoptions such as n_distinct=-0.5 (LIKE does not copy them). */
  options: string[];
  comment: string | null;
}

export interface KeyFact {
  kind: 'primary' | 'unique';
  /** The index that makes the key: its name. */
  indexName: string;
  columns: string[];
}

export interface ConstraintFact {
  name: string;
  /** p primary, u unique, x exclusion */
  type: 'p' | 'u' | 'x';
  /** pg_get_constraintdef(oid) */
  definition: string;
  comment: string | null;
  deferrable: boolean;
  deferred: boolean;
}

export interface IndexFact {
  oid: number;
  name: string;
  /** pg_get_indexdef(oid) as it reads on the original table. */
  definition: string;
  /**
   * What follows `CREATE [UNIQUE] INDEX name ON schema.table` in that definition
   * (` USING method (...) ...`), or null when the definition does not start that way.
   */
  definitionTail: string | null;
  unique: boolean;
  tablespace: string | null;
  /** Set when the index belongs to a PRIMARY KEY, UNIQUE or EXCLUDE constraint. */
  constraint: ConstraintFact | null;
  comment: string | null;
  /** ALTER INDEX ... ALTER COLUMN n SET STATISTICS on expression columns. */
  statisticsTargets: { column: number; target: number }[];
  isClustered: boolean;
  isReplicaIdentity: boolean;
  /** indisvalid: false for a failed CREATE INDEX or REINDEX CONCURRENTLY's leftover. */
  valid: boolean;
  /** The original index's size: how long its rebuild takes, relative to the others. */
  bytes: number;
}

export interface ForeignKeyFact {
  name: string;
  /** The table that holds the constraint. */
  table: { oid: number; schema: string; name: string };
  referencedOid: number;
  referenced: { oid: number; schema: string; name: string };
  /** The swap drops and re-adds the constraint: ALTER TABLE on its table needs that table's owner. */
  tableOwner: string;
  canAlterTable: boolean;
  /** Re-adding it needs REFERENCES on the referenced table. */
  canReference: boolean;
  /** pg_get_constraintdef(oid), with the referenced table as `REFERENCES schema.table(...)`. */
  definition: string;
  validated: boolean;
  comment: string | null;
  /** The referencing table is partitioned: its partitions hold clones of the constraint. */
  tableIsPartitioned: boolean;
}

/**
 * A CHECK (or, on PostgreSQL 18, NOT NULL) constraint that is NOT VALID: rows that violate it
 * may exist and must be kept. The copy is built without it and it is added back, NOT VALID,
 * by the swap (catalog work only).
 */
export interface NotValidConstraintFact {
  name: string;
  /** pg_get_constraintdef, ending in NOT VALID. */
  definition: string;
  comment: string | null;
}

/** An identity column's sequence: LIKE gives the copy's sequence every option but its type. */
export interface IdentitySequenceFact {
  column: string;
  /** format_type of the sequence's data type: smallint, integer or bigint. */
  dataType: string;
}

export interface ViewFact {
  oid: number;
  schema: string;
  name: string;
  owner: string;
  /** CREATE OR REPLACE VIEW (or re-creating a materialized view) needs the view's owner. */
  canActAsOwner: boolean;
  materialized: boolean;
  /** For a materialized view: what depends on it (it gets a new OID at the swap). */
  dependents: string[];
}

export interface PublicationFact {
  name: string;
  owner: string;
  /** ALTER PUBLICATION ... ADD TABLE needs the publication's owner. */
  canActAsOwner: boolean;
}

export interface SequenceFact {
  schema: string;
  name: string;
  column: string;
}


export interface RelationName {
  oid: number;
  schema: string;
  name: string;
}

/** The table is a partition: where it sits, and what its swap must keep. */
export interface PartitionFact {
  parent: RelationName;
  parentOwner: string;
  /** DETACH and ATTACH are ALTER TABLE on the parent: they need its owner. */
  canActAsParentOwner: boolean;
  /** pg_get_expr(relpartbound): `FOR VALUES ...` or `DEFAULT`. */
  bound: string;
  /**
   * pg_get_partition_constraintdef, read with search_path = pg_catalog (the parent's bounds
   * included): a CHECK on the copy with this text lets ATTACH skip its scan. Null when the
   * partition has no constraint (a default partition without siblings).
   */
  constraint: string | null;
  isDefault: boolean;
  /** The parent's default partition, when it is another one: ATTACH must prove it holds no row of the bound. */
  defaultSibling: RelationName | null;
  /** Foreign keys declared on an ancestor: the partition holds clones of them. */
  foreignKeysOfAncestors: { name: string; table: Omit<RelationName, 'oid'> }[];
  /** EXCLUDE constraints of the partitioned table (PostgreSQL 17+), as the partition's clones. */
  inheritedExclusionConstraints: string[];
  /** It or an ancestor is a hash partition on a collatable key: ATTACH cannot prove its bound from a CHECK. */
  hashOnCollatableKey: boolean;
  /** rpcl's constraints on this partition (a default partition while a sibling is repacked). */
  workConstraints: string[];
  /** Foreign keys that reference an ancestor: DETACH checks every referencing row against the partition. */
  foreignKeysToAncestors: { name: string; table: Omit<RelationName, 'oid'> }[];
}

export interface TableFacts {
  oid: number;
  schema: string;
  name: string;
  relkind: string;
  persistence: 'p' | 'u' | 't';
  isPartition: boolean;
  /** Set when isPartition. */
  partition: PartitionFact | null;
  inheritsFrom: string[];
  inheritedBy: string[];
  owner: string;
  /** The connected role may act as the owner (ALTER, DROP). */
  canActAsOwner: boolean;
  /** The connected role is a superuser or has BYPASSRLS: FORCE ROW LEVEL SECURITY does not filter its reads. */
  canBypassRls: boolean;
  tablespace: string | null;
  relfilenode: number;
  reloptions: string[];
  toastReloptions: string[];
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
  rowSecurity: boolean;
  forceRowSecurity: boolean;
  comment: string | null;
  columns: ColumnFact[];
  key: KeyFact | null;
  indexes: IndexFact[];
  notValidConstraints: NotValidConstraintFact[];
  identitySequences: IdentitySequenceFact[];
  incomingForeignKeys: ForeignKeyFact[];
  outgoingForeignKeys: ForeignKeyFact[];
  views: ViewFact[];
  publications: PublicationFact[];
  ownedSequences: SequenceFact[];
  /** Table and column privileges exactly as stored (see inspect/acl.ts). */
  grants: ObjectAcl;
  /** Dependents rpcl cannot yet carry across the swap, described by pg_describe_object. */
  unsupportedDependents: string[];
  estimatedRows: number;
  totalBytes: number;
  /** Digest of the definition: a change during the run ends the run before the swap. */
  fingerprint: string;
}
