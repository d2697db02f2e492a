/** SQLSTATE codes rpcl reacts to, by name (PostgreSQL Appendix A). */
export const SqlState = {
  uniqueViolation: '23505',
  exclusionViolation: '23P01',
  foreignKeyViolation: '23503',
  lockNotAvailable: '55P03',
  queryCanceled: '57014',
  deadlockDetected: '40P01',
  serializationFailure: '40001',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  invalidCatalogName: '3D000',
  insufficientPrivilege: '42501',
  undefinedTable: '42P01',
  undefinedObject: '42704',
  duplicateObject: '42710',
  duplicateSchema: '42P06',
  dependentObjectsStillExist: '2BP01',
  adminShutdown: '57P01',
  crashShutdown: '57P02',
  cannotConnectNow: '57P03',
  tooManyConnections: '53300',
} as const;

export function sqlStateOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export function isSqlState(err: unknown, state: string): boolean {
  return sqlStateOf(err) === state;
}

/**
 * The session is gone (server shut down or restarted, backend terminated, network lost), as
 * opposed to a statement that failed on a live session.
 */
export function isConnectionLoss(err: unknown): boolean {
  const state = sqlStateOf(err);
  if (state !== undefined) {
    return state.startsWith('08') || state === SqlState.adminShutdown || state === SqlState.crashShutdown || state === SqlState.cannotConnectNow;
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && ['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH'].includes(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|Client has encountered a connection error and is not queryable/.test(message);
}
