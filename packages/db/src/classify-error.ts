/** Decides whether a failed insert is an outage (retry later) or a bad record (park it). */

/** SQLSTATE classes a single record can cause: data exception, integrity violation, program limit. */
const RECORD_CLASSES = new Set(['22', '23', '54']);

/** SQLSTATE undefined_table: the migrations never reached this database. */
export const UNDEFINED_TABLE = '42P01';

/** SQLSTATE insufficient_privilege: the role may not do this (insert, or create for a migration). */
export const INSUFFICIENT_PRIVILEGE = '42501';

/** SQLSTATE query_canceled: a statement timeout, or a cancel request. */
const QUERY_CANCELED = '57014';

/** The SQLSTATE of a Postgres error, looking through drizzle's wrapper to its cause. */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/**
 * True when the record itself is at fault (invalid JSON, a value Postgres cannot store):
 * retrying cannot help. Anything else (refused connections, timeouts, a missing table
 * before migrations ran) is treated as an outage and retried, because parking good
 * records during an outage would lose them from the table.
 */
export function isRecordError(error: unknown): boolean {
  const state = sqlState(error);
  return state !== undefined && RECORD_CLASSES.has(state.slice(0, 2));
}

/** object_not_in_prerequisite_state: among others, a database that takes no connections. */
const NOT_IN_PREREQUISITE_STATE = '55000';

/** The server is at max_connections: it answers, but cannot take this client. */
const TOO_MANY_CONNECTIONS = '53300';

/**
 * True when the database could not be reached at all: a socket error (`ECONNREFUSED`...), one of
 * postgres.js's connection errors (`CONNECT_TIMEOUT`, `CONNECTION_CLOSED`...), or a connection
 * (08), authorization (28), missing-database (3D000), too-many-connections (53300) or shutdown
 * (57P) SQLSTATE, or a database that takes no connections (55000 with that message: `ALTER
 * DATABASE … ALLOW_CONNECTIONS false`, or one being dropped). A query's own mistakes carry
 * other codes and are not outages.
 */
export function isUnreachable(error: unknown): boolean {
  const state = sqlState(error);
  if (state === NOT_IN_PREREQUISITE_STATE) return /not currently accepting connections/.test(errorMessage(error));
  if (state !== undefined) return state.startsWith('08') || state.startsWith('28') || state === '3D000' || state === TOO_MANY_CONNECTIONS || state.startsWith('57P');
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    // ECONNREFUSED, ETIMEDOUT, EAI_AGAIN (a name that did not resolve)...
    if (typeof code === 'string' && (/^E[A-Z_]+$/.test(code) || code.startsWith('CONNECT'))) return true;
  }
  return false;
}

/** True when Postgres cancelled the statement because it ran past `statement_timeout` (not a cancel request). */
export function isStatementTimeout(error: unknown): boolean {
  return sqlState(error) === QUERY_CANCELED && /statement timeout/.test(errorMessage(error));
}

export function errorMessage(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  if (cause instanceof Error && cause.message) return cause.message;
  if (error instanceof Error) return error.message;
  // PGlite throws Emscripten's ErrnoError, which is no Error: String() of it is "[object Object]".
  if (error && typeof error === 'object') {
    const { message, name, code, errno } = error as { message?: unknown; name?: unknown; code?: unknown; errno?: unknown };
    const what = [message, name, error.constructor?.name].find((part) => typeof part === 'string' && part !== '' && part !== 'Object') ?? 'an error';
    const details = [code !== undefined && `code ${String(code)}`, errno !== undefined && `errno ${String(errno)}`].filter(Boolean);
    return details.length > 0 ? `${String(what)} (${details.join(', ')})` : String(what);
  }
  return String(error);
}
