/** Errors the db package raises. Each has a stable `code` the HTTP layer and CLI map to a status. */

export abstract class AuditError extends Error {
  abstract readonly code: string;
  /** The query field at fault, when there is one (`cursor`, `limit`, ...). */
  readonly field?: string;
  constructor(message: string, field?: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}

/** A history/metrics query argument is out of range or malformed. */
export class InvalidAuditQueryError extends AuditError {
  override name = 'InvalidAuditQueryError';
  readonly code = 'INVALID_AUDIT_QUERY';
  constructor(field: string, message: string) {
    super(message, field);
  }
}

/** The embedded PGlite store is open in another process; PGlite allows one process per data directory. */
export class AuditStoreBusyError extends AuditError {
  override name = 'AuditStoreBusyError';
  readonly code = 'AUDIT_STORE_BUSY';
  /**
   * `ownerPid` 0: the owner had not written its name yet. `ownerRole` 'reader': a CLI read
   * (`queue:history`, `queue:monitor`) that closes the store when it is done.
   */
  constructor(
    readonly dataDir: string,
    readonly ownerPid: number,
    readonly ownerHost?: string,
    readonly ownerRole?: 'reader',
    /** How long this opener waited for a reader to close it, when it did. */
    waitedMs?: number,
  ) {
    const owner = ownerPid ? `open in process ${ownerPid}${ownerHost ? ` on host ${ownerHost}` : ''}` : 'being opened by another process';
    super(
      ownerRole === 'reader'
        ? `the embedded audit store in ${dataDir} is ${owner}, a queue:history or queue:monitor read${waitedMs ? ` that had not closed it after ${waitedMs / 1000} s` : ''} (PGlite allows one process at a time). ` +
            'Stop that command, or set DATABASE_URL to a Postgres server to share the audit table.'
        : `the embedded audit store in ${dataDir} is ${owner} (PGlite allows one process at a time). ` +
            'Stop that process, or set DATABASE_URL to a Postgres server to share the audit table between processes.',
    );
  }

  /** Held for a moment (a CLI read, or an opener that has not written its name yet): worth waiting for. */
  get brief(): boolean {
    return this.ownerRole === 'reader' || this.ownerPid === 0;
  }
}

/** No audit writer answered a maintenance request (is auditing on, and is a server or `bun run worker` running?). */
export class AuditWriterUnavailableError extends AuditError {
  override name = 'AuditWriterUnavailableError';
  readonly code = 'AUDIT_WRITER_UNAVAILABLE';
  constructor(what: string, timeoutMs: number) {
    super(`no audit writer answered "${what}" within ${timeoutMs} ms; the request stays queued for the next writer`);
  }
}

/** The audit writer took a retention request on, then went silent: it died mid-run. A retry asks again. */
export class AuditWriterSilentError extends AuditError {
  override name = 'AuditWriterSilentError';
  readonly code = 'AUDIT_WRITER_SILENT';
  constructor(silenceMs: number) {
    super(`the audit writer running the retention deletion has not answered for ${silenceMs} ms (it stopped or died mid-run); a retry asks again and deletes what is left`);
  }
}

/** The audit writer took a retention request on and could not finish it (the reason is the message). */
export class AuditRetentionFailedError extends AuditError {
  override name = 'AuditRetentionFailedError';
  readonly code = 'AUDIT_RETENTION_FAILED';
}

/** The audit writer needs Redis 6.2 or newer (XAUTOCLAIM, XTRIM MINID). */
export class AuditRedisTooOldError extends AuditError {
  override name = 'AuditRedisTooOldError';
  readonly code = 'AUDIT_REDIS_TOO_OLD';
  constructor(readonly version: string) {
    super(`Redis ${version} is too old for the audit trail, which needs 6.2 or newer (XAUTOCLAIM, XTRIM MINID): upgrade Redis, or set AUDIT_ENABLED=false`);
  }
}

/** The audit database could not be reached (refused, timed out, no such database, bad credentials). */
export class AuditStoreUnavailableError extends AuditError {
  override name = 'AuditStoreUnavailableError';
  readonly code = 'AUDIT_STORE_UNAVAILABLE';
  constructor(location: string, reason: string, cause: unknown, problem = 'is not reachable') {
    super(`the audit database ${location} ${problem}: ${reason}`, undefined, { cause });
  }
}

/** The embedded store's directory was deleted (or replaced) under a running process: writes would vanish when it exits. */
export class AuditStoreGoneError extends AuditError {
  override name = 'AuditStoreGoneError';
  readonly code = 'AUDIT_STORE_GONE';
  constructor(readonly dataDir: string) {
    super(
      `the embedded audit store ${dataDir} was deleted or replaced while this process ran; rows written now would be lost when it exits, ` +
        'so records wait in Redis: restart the process to open the store there (or create it again) and write them',
    );
  }
}

/** A query found no `worker_jobs` table: the migrations were never applied to this database. */
export class AuditTableMissingError extends AuditError {
  override name = 'AuditTableMissingError';
  readonly code = 'AUDIT_TABLE_MISSING';
  constructor(location: string, cause: unknown) {
    super(
      `the audit table worker_jobs does not exist in ${location}: apply the migrations with \`bun run db:migrate\` ` +
        '(the server and `bun run worker` apply them when they start)',
      undefined,
      { cause },
    );
  }
}

/**
 * Postgres cancelled an audit read that ran past the read timeout (`AUDIT_READ_TIMEOUT`),
 * so it could not keep a read connection busy for good. The caller asked for too much at once.
 */
export class AuditQueryTimeoutError extends AuditError {
  override name = 'AuditQueryTimeoutError';
  readonly code = 'AUDIT_QUERY_TIMEOUT';
  constructor(readonly query: string, readonly timeoutMs: number, narrower: string, cause: unknown) {
    super(
      `the audit ${query} query ran longer than ${timeoutMs} ms and Postgres cancelled it (AUDIT_READ_TIMEOUT): ${narrower}, ` +
        'or raise AUDIT_READ_TIMEOUT',
      undefined,
      { cause },
    );
  }
}

/** An ad-hoc `store.query` the database refused (a syntax error, a missing column): its reason, not drizzle's "Failed query". */
export class AuditQueryFailedError extends AuditError {
  override name = 'AuditQueryFailedError';
  readonly code = 'AUDIT_QUERY_FAILED';
  constructor(reason: string, cause: unknown) {
    super(`the audit store refused the query: ${reason}`, undefined, { cause });
  }
}
