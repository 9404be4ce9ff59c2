/** Turns a failed audit read (history, metrics, health, the readiness ping) into the db package's named errors. */
import { errorMessage, isStatementTimeout, isUnreachable, sqlState, UNDEFINED_TABLE } from './classify-error.ts';
import { AuditError, AuditQueryTimeoutError, AuditStoreUnavailableError, AuditTableMissingError } from './errors.ts';

/** Which read it was, and how the caller can ask for less when it runs too long. */
export interface ReadDescription {
  /** `history`, `health`... as the timeout message names it. */
  query: string;
  /** What to narrow, as a clause: `use a shorter windowMs`. */
  narrower: string;
  /** The read connections' statement_timeout; 0 when none is set. */
  timeoutMs: number;
}

/** Runs a read; a database the migrations never reached, or a read Postgres cancelled, gets an error that says what to do. */
export async function reading<T>(location: string, query: () => Promise<T>, read?: ReadDescription): Promise<T> {
  try {
    return await query();
  } catch (error) {
    if (error instanceof AuditError) throw error;
    // Only the audit table's own absence means the migrations never ran (a caller's own query may name another).
    if (sqlState(error) === UNDEFINED_TABLE && /\bworker_jobs\b/.test(errorMessage(error))) throw new AuditTableMissingError(location, error);
    if (read && isStatementTimeout(error)) throw new AuditQueryTimeoutError(read.query, read.timeoutMs, read.narrower, error);
    // drizzle wraps the driver's error as "Failed query: <the SQL>"; the cause says what happened.
    if (isUnreachable(error)) throw new AuditStoreUnavailableError(location, errorMessage(error), error);
    throw error;
  }
}
