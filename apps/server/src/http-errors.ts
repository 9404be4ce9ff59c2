/** Errors the HTTP layer raises itself. Each carries the status and `code` the one onError hook sends. */

export abstract class HttpError extends Error {
  abstract readonly status: 400 | 401 | 404 | 409 | 503;
  abstract readonly code: string;
  readonly field?: string;
  constructor(message: string, field?: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}

export class JobNotFoundError extends HttpError {
  override name = 'JobNotFoundError';
  readonly status = 404;
  readonly code = 'JOB_NOT_FOUND';
  constructor(id: string) {
    super(`no job with id "${id}"`, 'id');
  }
}

export class ScheduleNotFoundError extends HttpError {
  override name = 'ScheduleNotFoundError';
  readonly status = 404;
  readonly code = 'SCHEDULE_NOT_FOUND';
  constructor(key: string) {
    super(`no schedule with key "${key}"`, 'key');
  }
}

/** Input Elysia would read loosely: a query name given twice, an integer written as `1e2`, `0x10` or `"12"` in JSON. */
export class InvalidInputError extends HttpError {
  override name = 'InvalidInputError';
  readonly status = 400;
  readonly code: 'INVALID_QUERY' | 'INVALID_BODY';
  constructor(where: 'query' | 'body', detail: string, field: string) {
    super(`invalid ${where}: ${detail}`, field);
    this.code = where === 'query' ? 'INVALID_QUERY' : 'INVALID_BODY';
  }
}

/** The request is valid but the job's current state does not allow it (duplicate id, retrying an active job...). */
export class JobConflictError extends HttpError {
  override name = 'JobConflictError';
  readonly status = 409;
  constructor(readonly code: 'JOB_EXISTS' | 'JOB_NOT_RETRYABLE' | 'JOB_LOCKED' | 'JOB_SCHEDULED', message: string, field?: string) {
    super(message, field);
  }
}

/** A dependency (Redis, the audit database) did not answer; the client may retry later. */
export class DependencyUnavailableError extends HttpError {
  override name = 'DependencyUnavailableError';
  readonly status = 503;
  constructor(readonly code: 'REDIS_UNAVAILABLE' | 'AUDIT_UNAVAILABLE', message: string, cause?: unknown) {
    super(message, undefined, { cause });
  }
}

export class UnauthorizedError extends HttpError {
  override name = 'UnauthorizedError';
  readonly status = 401;
  readonly code = 'UNAUTHORIZED';
  constructor() {
    super('admin credentials required: HTTP basic (ADMIN_USER/ADMIN_PASSWORD) or a bearer token (ADMIN_TOKEN)');
  }
}
