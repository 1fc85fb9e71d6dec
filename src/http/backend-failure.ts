// Tells a backend that failed (PostgreSQL, the S3 store, a full disk) from a bug, so a client
// gets 503 (retry later) or 507 (storage full) instead of 500. Decided from the error's shape:
// the drivers are loaded only when configured, so none of their classes can be imported here.

export type FailedBackend = 'metadata database' | 'blob storage' | 'network';

export type BackendFailure = { kind: 'unavailable'; backend: FailedBackend } | { kind: 'full' };

/** Socket-level errors: the backend is down, unreachable or stopped answering. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/** Messages of node-postgres (pg, pg-pool) when its server is down, stopped or too slow. */
const POSTGRES_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /^Client has encountered a connection error/,
  /^Client was closed and is not queryable/,
  /^Cannot use a pool after calling end/,
];

/**
 * PostgreSQL SQLSTATEs that mean "not now": connection exceptions (class 08), too many
 * connections, server shutting down or starting, a statement timeout or cancel.
 */
function isPostgresUnavailableState(code: string): boolean {
  return /^08/.test(code) || ['53300', '57P01', '57P02', '57P03', '57014'].includes(code);
}

/** S3 errors the SDK raises when the store is down, overloaded or silent. */
const S3_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'ServiceUnavailable', 'SlowDown', 'InternalError']);

interface ErrorShape {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  errors?: unknown;
  severity?: unknown;
  $metadata?: { httpStatusCode?: number };
  $fault?: unknown;
}

export function backendFailure(err: unknown, depth = 0): BackendFailure | undefined {
  if (typeof err !== 'object' || err === null || depth > 3) return undefined;
  const e = err as ErrorShape;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return { kind: 'full' };
  // A DatabaseError of pg carries a severity next to its SQLSTATE.
  if (typeof e.severity === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    return isPostgresUnavailableState(code) ? { kind: 'unavailable', backend: 'metadata database' } : undefined;
  }
  if (POSTGRES_MESSAGES.some((m) => m.test(message))) return { kind: 'unavailable', backend: 'metadata database' };
  if (e.$metadata !== undefined || e.$fault !== undefined) {
    const status = e.$metadata?.httpStatusCode ?? 0;
    if (status >= 500 || S3_NAMES.has(String(e.name)) || NETWORK_CODES.has(code)) return { kind: 'unavailable', backend: 'blob storage' };
    return undefined;
  }
  if (e.name === 'TimeoutError' && /node-http-handler/.test(message)) return { kind: 'unavailable', backend: 'blob storage' };
  if (NETWORK_CODES.has(code)) return { kind: 'unavailable', backend: 'network' };
  // Node's connect with several addresses fails with an AggregateError of socket errors; a
  // cause chain may wrap the driver's error.
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = backendFailure(inner, depth + 1);
      if (found) return found;
    }
  }
  return backendFailure((err as { cause?: unknown }).cause, depth + 1);
}
