/** A planned SQL statement with the locks it takes on application tables, for the executor and --dry-run. */
export type LockLevel =
  | 'ACCESS SHARE'
  | 'ROW EXCLUSIVE'
  | 'SHARE UPDATE EXCLUSIVE'
  | 'SHARE ROW EXCLUSIVE'
  | 'ACCESS EXCLUSIVE';

export interface Step {
  description: string;
  sql: string;
  params?: unknown[];
  /** Locks stronger than ACCESS SHARE on tables the application uses: each runs under lock_timeout. */
  locks?: { table: string; level: LockLevel }[];
  /** Take the lock only if it is free at once (a 1 ms lock_timeout): a refusal fails the attempt. */
  immediate?: boolean;
}
