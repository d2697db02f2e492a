/**
 * Whether a table can be repacked safely, decided from catalog facts alone. Every reason says
 * what is wrong and what the user can do; nothing is attempted for a refused table.
 */
import { displayIdent } from '../db/ident.js';
import type { TableFacts } from '../inspect/facts.js';
import { partitionRefusal } from './partition.js';
import { HELPER_SCHEMA } from './names.js';

export interface Circumstances {
  /** CREATE on the table's schema: the copy must move there at the swap. */
  createInSchema: boolean;
  /** server_version_num */
  serverVersion: number;
}

const SYSTEM_SCHEMAS = new Set(['pg_catalog', 'information_schema', 'pg_toast']);

export function refusalReason(facts: TableFacts, perms: Circumstances): string | null {
  if (SYSTEM_SCHEMAS.has(facts.schema) || facts.schema.startsWith('pg_toast') || facts.schema.startsWith('pg_temp')) {
    if (facts.persistence === 't') return 'it is a temporary table: only its own session can see it; nothing to do';
    return 'it is a system catalog: system catalogs are never repacked by rpcl (use VACUUM FULL in a maintenance window)';
  }
  if (facts.schema === HELPER_SCHEMA) return "it belongs to rpcl's helper schema";
  switch (facts.relkind) {
    case 'r':
      break;
    case 'p':
      return 'it is a partitioned table, which holds no rows itself: name it in tables and each of its partitions is repacked in turn';
    case 'v':
      return 'it is a view: views hold no data; repack the tables it reads';
    case 'm':
      return 'it is a materialized view: use REFRESH MATERIALIZED VIEW CONCURRENTLY instead';
    case 'f':
      return 'it is a foreign table: its data lives on another server';
    default:
      return `it is not an ordinary table (relkind ${facts.relkind})`;
  }
  if (facts.persistence === 't') return 'it is a temporary table: only its own session can see it';
  if (facts.partition !== null) {
    const reason = partitionRefusal(facts.partition, facts);
    if (reason !== null) return reason;
  } else if (facts.isPartition) {
    return 'it is a partition whose parent could not be read';
  } else if (facts.inheritsFrom.length > 0) {
    return `it inherits from ${facts.inheritsFrom.join(', ')}: inheritance children are not supported (the parent would lose it)`;
  }
  if (facts.inheritedBy.length > 0) {
    return `it is an inheritance parent of ${facts.inheritedBy.join(', ')}: inheritance parents are not supported`;
  }
  if (!facts.canActAsOwner) {
    const owner = displayIdent(facts.owner);
    return `it is owned by ${owner}: connect as ${owner} (or a role that is a member of it) to repack it`;
  }
  if (facts.rowSecurity && facts.forceRowSecurity && !facts.canBypassRls) {
    // The owner is subject to its own policies under FORCE: a copy read through them would
    // silently drop rows (every rpcl session runs with row_security = off, so it would fail).
    return 'it has FORCE ROW LEVEL SECURITY and the connected role is subject to its policies: the copy could not read every row. ' +
      'Connect as a role with BYPASSRLS (ALTER ROLE ... BYPASSRLS, or rds_superuser on RDS) to repack it';
  }
  const grantor = facts.grants.otherGrantors.find((g) => !g.canActAs);
  if (grantor) {
    return `some of its privileges were granted by ${displayIdent(grantor.name)}, whom the connected role cannot act as: the swap re-grants them ` +
      `in that role's name so that they stay attributed to it; GRANT ${displayIdent(grantor.name)} to the connected role, or connect as a superuser`;
  }
  if (!perms.createInSchema) {
    return `the connected role has no CREATE privilege on schema ${displayIdent(facts.schema)}, which the swap needs: GRANT CREATE ON SCHEMA to it`;
  }
  if (facts.key === null) {
    return 'it has no primary key and no NOT NULL unique index (non-partial, non-deferrable, on plain columns, with the default operator class and collation): add one so changes can be replayed by key';
  }
  for (const index of facts.indexes) {
    if (!index.valid) {
      return `its index ${displayIdent(index.name)} is INVALID (a failed CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY): the copy would ` +
        'rebuild it as a valid index. Drop it or REINDEX it first (if rpcl repack_indexes left it, rpcl abort_repack removes it)';
    }
    if (index.constraint === null && index.definitionTail === null) {
      return `its index ${index.name} has a definition rpcl cannot rebuild (${index.definition})`;
    }
  }
  for (const fk of facts.incomingForeignKeys) {
    if (fk.table.oid !== facts.oid && !fk.canAlterTable) {
      return `table ${displayIdent(fk.table.schema)}.${displayIdent(fk.table.name)} references it (foreign key ${displayIdent(fk.name)}) ` +
        `and is owned by ${displayIdent(fk.tableOwner)}: the swap re-creates that foreign key, which needs its owner; ` +
        `connect as ${displayIdent(fk.tableOwner)} or a member of it`;
    }
  }
  for (const fk of facts.incomingForeignKeys) {
    if (fk.tableIsPartitioned && perms.serverVersion < 180000) {
      return `partitioned table ${displayIdent(fk.table.schema)}.${displayIdent(fk.table.name)} references it (foreign key ${displayIdent(fk.name)}): ` +
        'before PostgreSQL 18 a foreign key on a partitioned table cannot be added NOT VALID, so the swap would have to re-check ' +
        'every row of every partition while holding the locks. On PostgreSQL 18 rpcl repacks it; on this server drop that foreign key ' +
        'around the repack (and re-add it NOT VALID per partition, then VALIDATE)';
    }
  }
  for (const fk of facts.outgoingForeignKeys) {
    if (!fk.canReference) {
      return `its foreign key ${displayIdent(fk.name)} references ${displayIdent(fk.referenced.schema)}.${displayIdent(fk.referenced.name)}, ` +
        `on which the connected role has no REFERENCES privilege: the swap re-creates it; GRANT REFERENCES to the role`;
    }
  }
  for (const v of facts.views) {
    if (v.materialized && v.dependents.length > 0) {
      return `materialized view ${displayIdent(v.schema)}.${displayIdent(v.name)} reads it and is re-created by the swap, ` +
        `but these depend on it: ${v.dependents.join('; ')}. Drop them around the repack`;
    }
    if (!v.canActAsOwner) {
      return `view ${displayIdent(v.schema)}.${displayIdent(v.name)} reads it and is owned by ${displayIdent(v.owner)}: ` +
        `the swap re-points it with CREATE OR REPLACE VIEW, which needs that owner; connect as ${displayIdent(v.owner)} or a member of it`;
    }
  }
  for (const p of facts.publications) {
    if (!p.canActAsOwner) {
      return `it is in publication ${displayIdent(p.name)}, owned by ${displayIdent(p.owner)}: the swap adds the new table to it, ` +
        `which needs that owner; connect as ${displayIdent(p.owner)} or a member of it`;
    }
  }
  if (facts.unsupportedDependents.length > 0) {
    return (
      `these depend on it and cannot be carried across the swap yet: ${facts.unsupportedDependents.join('; ')}. ` +
      'Drop and re-create them around the repack, or wait for a version of rpcl that handles them'
    );
  }
  return null;
}
