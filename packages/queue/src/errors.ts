/** Errors the queue package raises. Each has a stable `code` the HTTP layer and CLI map to a status. */

export abstract class QueueError extends Error {
  abstract readonly code: string;
  /** The input field at fault, when there is one (`type`, `data/sleepMs`, `priority`...). */
  readonly field?: string;
  constructor(message: string, field?: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}

export class UnknownJobTypeError extends QueueError {
  override name = 'UnknownJobTypeError';
  readonly code = 'UNKNOWN_JOB_TYPE';
  constructor(readonly type: string, known: readonly string[]) {
    // A type name is short; anything longer is not echoed back whole.
    const shown = type.length > 100 ? `${type.slice(0, 100)}...` : type;
    super(`unknown job type "${shown}" (known types: ${known.join(', ')})`, 'type');
  }
}

export class InvalidJobDataError extends QueueError {
  override name = 'InvalidJobDataError';
  readonly code = 'INVALID_JOB_DATA';
  constructor(type: string, path: string, problem: string) {
    super(`invalid data for "${type}": ${path ? `${path} ` : ''}${problem}`, path ? `data${path}` : 'data');
  }
}

export class InvalidOptionError extends QueueError {
  override name = 'InvalidOptionError';
  readonly code = 'INVALID_OPTION';
  constructor(field: string, message: string) {
    super(message, field);
  }
}

/** A job definition's `schedule` cannot be set up (a bad pattern, data its schema refuses): a fault in the code, not in input. */
export class InvalidScheduleDefinitionError extends QueueError {
  override name = 'InvalidScheduleDefinitionError';
  readonly code = 'INVALID_SCHEDULE_DEFINITION';
  constructor(readonly type: string, cause: unknown) {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`the schedule in the "${type}" job definition is invalid (${why}); fix its schedule in packages/jobs/src, then start again`, 'schedule', { cause });
  }
}

/** The state a JobExistsError names while another submit holds the id's claim. */
export const BEING_ADDED = 'being added';

/** A submit named a job id that is taken (or being taken by a concurrent submit); nothing was queued. */
export class JobExistsError extends QueueError {
  override name = 'JobExistsError';
  readonly code = 'JOB_EXISTS';
  /** The existing job's state, or `being added` when another submit holds the id right now. */
  constructor(readonly jobId: string, readonly state: string) {
    super(`a job with id "${jobId}" already exists (${state}); nothing queued`, 'jobId');
  }
}

export class RedisUnavailableError extends QueueError {
  override name = 'RedisUnavailableError';
  readonly code = 'REDIS_UNAVAILABLE';
  /** `refusedDb`: Redis answered but refused the URL's database index. */
  constructor(url: string, cause?: unknown, readonly refusedDb?: number) {
    const reason = cause instanceof Error ? cause.message : String(cause ?? 'no answer');
    // Running, and answering: it wants a password, or another one.
    const login = /^(NOAUTH|WRONGPASS)\b/.test(reason) || /\bAUTH\b.*without any password configured/i.test(reason);
    super(
      refusedDb !== undefined
        ? `Redis at ${redactUrl(url)} refused database ${refusedDb} (${reason}): use an index below its "databases" setting (16 by default).`
        : login
          ? `Redis at ${redactUrl(url)} refused the login (${reason}): put its password in REDIS_URL (redis://:PASSWORD@host:port, or redis://USER:PASSWORD@host:port).`
          : isRedisCommandTimeout(cause)
            ? `Redis at ${redactUrl(url)} took the connection but did not answer within REDIS_COMMAND_TIMEOUT: is it paused, or overloaded?`
            : (describeRedisRefusal(cause, url) ?? `Redis at ${redactUrl(url)} is not reachable (${reason}). ${unreachableHint(url)}`),
      undefined,
      { cause },
    );
  }
}

/**
 * What to check when Redis does not answer. `bun run dev` starts a Redis only for a plain
 * `redis://` URL on this machine, so only there is it the remedy.
 */
function unreachableHint(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'Is it running?';
  }
  if (parsed.protocol === 'rediss:') return 'Is it running, and does it speak TLS on that port (rediss://)?';
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) return 'Is it running, and can this machine reach it?';
  return 'Is it running? `bun run dev` starts one.';
}

/**
 * A Redis error refusing REDIS_URL's user a command or a key (an ACL), said in those terms;
 * null for any other error. Redis answers, so "not reachable" would be wrong.
 */
export function describeRedisRefusal(error: unknown, url: string): string | null {
  const message = error instanceof Error ? error.message : String(error);
  if (!/^NOPERM\b/.test(message)) return null;
  return (
    `Redis at ${redactUrl(url)} does not let REDIS_URL's user run what Sluice needs (${message}): ` +
    'allow it every command on the queue\'s keys and channels, e.g. ACL SETUSER <user> on >PASSWORD ~* &* +@all'
  );
}

/**
 * Redis refused a write because it is full: its used memory is over `maxmemory`, and the
 * `noeviction` policy production needs (any other loses jobs) refuses writes instead of
 * dropping keys. Reads and deletions still work.
 */
export function isRedisOutOfMemory(error: unknown): boolean {
  return error instanceof Error && /^OOM\b/.test(error.message);
}

/** The refusal `isRedisOutOfMemory` recognises, said with what to do; null for any other error. */
export function describeRedisOutOfMemory(error: unknown, url: string): string | null {
  if (!isRedisOutOfMemory(error)) return null;
  return (
    `Redis at ${redactUrl(url)} is out of memory (used memory over its maxmemory, and its policy refuses writes), so nothing was written: ` +
    'raise its maxmemory, or free memory by removing finished jobs (the dashboard\'s Clean, or POST /api/v1/jobs/queue/clean)'
  );
}

/** An attempt ran past its definition's timeoutMs. Retryable like any other failure. */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`job timed out after ${timeoutMs} ms`);
  }
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * A command Redis did not answer within REDIS_COMMAND_TIMEOUT (ioredis's plain Error). The
 * command was sent: a write may still take effect once Redis answers.
 */
export function isRedisCommandTimeout(error: unknown): boolean {
  return error instanceof Error && error.message === 'Command timed out';
}

/**
 * Redis answered and turned REDIS_URL away: a wrong or missing password, an ACL that denies a
 * command Sluice needs, or a database index it does not have. Waiting does not help, unlike a
 * Redis that is down or loading.
 */
export function isRedisRefusal(error: unknown): boolean {
  if (error instanceof RedisUnavailableError && error.refusedDb !== undefined) return true;
  const cause = error instanceof RedisUnavailableError ? error.cause : error;
  const message = cause instanceof Error ? cause.message : String(cause);
  return /^(NOPERM|WRONGPASS|NOAUTH)\b/.test(message) || /\bAUTH\b.*without any password configured/i.test(message);
}
