/** The one boundary that turns any thrown error into `{ error: { code, message, field? } }` with its status. */
import { Elysia, NotFoundError, ParseError, ValidationError } from 'elysia';
import type { Logger } from '@sluice/observability';
import { AuditQueryTimeoutError, InvalidAuditQueryError } from '@sluice/db';
import { describeRedisOutOfMemory, isRedisCommandTimeout, JobExistsError, QueueError, RedisUnavailableError } from '@sluice/queue';
import { DASHBOARD_PATH } from './dashboard.ts';
import { HttpError } from './http-errors.ts';
import type { FieldProblem } from './routes/schemas.ts';

const isFieldProblem = (value: unknown): value is FieldProblem =>
  typeof value === 'object' && value !== null && typeof (value as FieldProblem).field === 'string' && typeof (value as FieldProblem).message === 'string';

export interface ErrorBody {
  /** `key` only for the dashboard's API (see boardReadable). */
  error: { code: string; message: string; field?: string; key?: string };
  /** Only for the dashboard's API. */
  message?: string;
}

/**
 * Bull Board's page shows a failed action as a toast: `error.key` translated as its title,
 * the top-level `message` beneath (a key it has no translation for reads as itself). Errors
 * from its API carry both, so an admin sees why "Add job" was refused.
 */
function boardReadable(body: ErrorBody): ErrorBody {
  return { error: { ...body.error, key: body.error.code }, message: body.error.message };
}

export interface ErrorHandlerOptions extends DescribeOptions {
  log: Logger;
}

type Issue = { path?: string; summary?: string; message?: string };

/**
 * The first issue Elysia lists, or undefined. Listing them walks the value that failed again
 * (and Elysia's wording of each recurses into it): on a deeply nested value that overflows the
 * stack, which must not turn a 400 into a crash of this handler.
 */
function firstIssue(error: ValidationError): Issue | undefined {
  try {
    return error.all[0] as Issue | undefined;
  } catch {
    return undefined;
  }
}

export interface DescribeOptions {
  /** Whether the producer's Redis connection is usable: an unclassified error while it is not is a 503. */
  redisReady: () => boolean;
  /** REDIS_URL, to name the Redis that refused (its password masked). */
  redisUrl: string;
}

export function describeHttpError(error: unknown, { redisReady, redisUrl }: DescribeOptions, url?: URL): { status: number; body: ErrorBody } {
  const body = (code: string, message: string, field?: string): ErrorBody => ({ error: { code, message, ...(field ? { field } : {}) } });

  if (error instanceof ValidationError && error.type !== 'response') {
    const first = firstIssue(error);
    const custom = isFieldProblem(error.customError) ? error.customError : null;
    const field = custom?.field ?? ((first?.path ?? error.valueError?.path ?? '').replace(/^\//, '') || undefined);
    // Elysia reports a failed coercion of one value (a query string, or a JSON string where a
    // number belongs) as type 'property', without saying where the value came from.
    const where = error.type === 'property' ? (field && url?.searchParams.has(field) ? 'query' : 'body') : error.type;
    const detail = custom?.message ?? first?.summary ?? first?.message ?? 'invalid value';
    return { status: 400, body: body(`INVALID_${where.toUpperCase()}`, `invalid ${where}: ${detail}`, field) };
  }
  // Elysia wraps whatever a parse hook throws in a ParseError; the request guard's own refusal (a body nested too deep) is inside.
  if (error instanceof ParseError && error.cause instanceof HttpError) return describeHttpError(error.cause, { redisReady, redisUrl }, url);
  if (error instanceof ParseError) return { status: 400, body: body('INVALID_JSON', 'request body is not valid JSON') };
  if (error instanceof NotFoundError) return { status: 404, body: body('NOT_FOUND', 'no such route') };
  if (error instanceof HttpError) return { status: error.status, body: body(error.code, error.message, error.field) };
  if (error instanceof RedisUnavailableError) return { status: 503, body: body(error.code, error.message) };
  if (error instanceof InvalidAuditQueryError) return { status: 400, body: body(error.code, error.message, error.field) };
  // The database answered, too slowly for this query: a gateway timeout, not an outage to retry as is.
  if (error instanceof AuditQueryTimeoutError) return { status: 504, body: body(error.code, error.message) };
  if (error instanceof JobExistsError) return { status: 409, body: body(error.code, error.message, error.field) };
  if (error instanceof QueueError) return { status: 400, body: body(error.code, error.message, error.field) };
  // Redis answers and refuses the write: no outage to wait out, and no fault of ours either.
  const full = describeRedisOutOfMemory(error, redisUrl);
  if (full) return { status: 503, body: body('REDIS_OUT_OF_MEMORY', full) };
  if (isRedisCommandTimeout(error)) {
    const message =
      'Redis did not answer within REDIS_COMMAND_TIMEOUT; what was asked may still take effect once it does (a submit: read the job back before submitting it again; with a jobId a second submit is a 409, never a second job)';
    return { status: 503, body: body('REDIS_UNAVAILABLE', message) };
  }
  // ioredis reports an outage as assorted plain errors; the connection state says what they mean.
  if (!redisReady()) return { status: 503, body: body('REDIS_UNAVAILABLE', 'Redis is not reachable; try again shortly') };
  return { status: 500, body: body('INTERNAL', 'internal error; see the server log') };
}

/** `message: cause message (SQLSTATE)` down the cause chain: a wrapped refusal (42501) must not read as "did not answer". */
function withCauses(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    const message = e instanceof Error ? e.message : String(e);
    parts.push(typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? `${message} (${code})` : message);
  }
  return parts.join(': ');
}

/**
 * describeHttpError, or a plain answer when describing the error throws itself: this handler
 * is the last stop, and an exception here would reach the client as Elysia's text/plain 500.
 */
function describeSafely(error: unknown, options: DescribeOptions, url: URL): { status: number; body: ErrorBody } {
  try {
    return describeHttpError(error, options, url);
  } catch {
    if (error instanceof ValidationError) {
      const where = error.type === 'property' ? 'request' : error.type;
      return { status: 400, body: { error: { code: `INVALID_${where.toUpperCase()}`, message: `invalid ${where}: it does not match what this route accepts` } } };
    }
    return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; see the server log' } } };
  }
}

/** During an outage every request fails alike: one line per code this often, saying how many were left out. */
const UNAVAILABLE_LOG_EVERY_MS = 10_000;

export function createErrorHandler({ log, ...describe }: ErrorHandlerOptions) {
  const unavailableLogged = new Map<string, { at: number; since: number }>();
  const logUnavailable = (code: string, fields: Record<string, unknown>) => {
    const last = unavailableLogged.get(code);
    if (last && Date.now() - last.at < UNAVAILABLE_LOG_EVERY_MS) {
      last.since++;
      return;
    }
    unavailableLogged.set(code, { at: Date.now(), since: 0 });
    log.warn({ ...fields, code, refusedSinceLastLine: last?.since ?? 0 }, 'request refused: a dependency is unavailable or too slow');
  };
  return new Elysia({ name: 'error-handler' }).onError({ as: 'global' }, ({ error, request, set }) => {
    const url = URL.parse(request.url) ?? new URL('http://invalid/');
    const described = describeSafely(error, describe, url);
    const { status } = described;
    const body = url.pathname.startsWith(`${DASHBOARD_PATH}/api/`) ? boardReadable(described.body) : described.body;
    // A 503 is an outage the health checks report already, and a 504 a read Postgres cancelled:
    // no stack, and not once per request; the cause stays, since it may be no outage at all.
    if (status === 503 || status === 504) logUnavailable(body.error.code, { method: request.method, path: url.pathname, status, err: withCauses(error) });
    else if (status >= 500) log.error({ err: error, method: request.method, path: url.pathname, status }, 'request failed');
    else log.debug({ method: request.method, path: url.pathname, status, code: body.error.code }, 'request rejected');
    set.status = status;
    set.headers['content-type'] = 'application/json';
    return body;
  });
}
