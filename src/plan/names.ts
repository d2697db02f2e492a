/**
 * Names of rpcl's own objects. Work objects are named from the table's OID: leftovers of any
 * run can be found again from the catalog, and names never approach the 63-byte limit.
 */
export const HELPER_SCHEMA = 'rpcl';

/** Written on the schema so rpcl never adopts (or drops) a user's schema of the same name. */
export const HELPER_SCHEMA_MARKER = 'rpcl helper schema: work tables and run state of rpcl; remove with `rpcl drop_schema`';

export const HELPER_SCHEMA_VERSION = 4;

export const workNames = {
  captureTrigger: (oid: number) => `rpcl_capture_${oid}`,
  truncateTrigger: (oid: number) => `rpcl_capture_${oid}_truncate`,
  captureFunction: (oid: number) => `capture_${oid}`,
  logTable: (oid: number) => `log_${oid}`,
  copyTable: (oid: number) => `copy_${oid}`,
  /** The chunked copy's frontier: present once the copy can be continued after a restart. */
  progressTable: (oid: number) => `progress_${oid}`,
  /** Index k of the copy, until the swap gives it the original's name. */
  copyIndex: (oid: number, k: number) => `copy_${oid}_i${k}`,
  /** The original table after the swap, until it is dropped. */
  oldTable: (oid: number) => `rpcl_old_${oid}`,
  batchTable: (oid: number) => `rpcl_batch_${oid}`,
  /** A partition's copy: the CHECK constraint that proves its rows fit the bound. */
  boundCheck: (oid: number) => `rpcl_bound_${oid}`,
  /** On the parent's default partition while a sibling is repacked: proves it holds none of the sibling's rows. */
  defaultExclusion: (oid: number) => `rpcl_excl_${oid}`,
};

/** Prefix shared by every capture trigger rpcl creates on a user table. */
export const CAPTURE_TRIGGER_PREFIX = 'rpcl_capture_';
