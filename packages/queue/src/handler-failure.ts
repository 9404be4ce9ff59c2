/**
 * What a handler's failure becomes: the error its execution record stores, whether it is
 * permanent, and the Error handed to BullMQ. Nothing here throws, whatever the handler threw.
 * Also the failure of a handler whose result cannot be stored.
 */
import { UnrecoverableError } from 'bullmq';
import { isPermanentError } from '@sluice/jobs';
import { cutText, describeError, ERROR_TEXT_LIMITS, readSafely, type ExecutionError } from './execution-record.ts';

export interface HandlerFailure {
  /** What the execution record stores. */
  error: ExecutionError;
  /** A PermanentError or UnrecoverableError: no retry. */
  permanent: boolean;
  /** What the processor throws for BullMQ to fail the job with. */
  thrown: Error;
  /** What the `job failed` log line shows: the handler's value, cut as `thrown` is when it is huge. */
  logged: unknown;
}

export function handlerFailure(value: unknown): HandlerFailure {
  const error = describeError(value);
  const permanent = readSafely(() => isPermanentError(value), false);
  // BullMQ reads the thrown value's `message`, `name` and `stack` unguarded: a `null`, or an
  // Error with a throwing getter, makes its failure handling throw, and the job stays active
  // until stalled-job recovery runs it again.
  const readable = readSafely(() => {
    const thrown = value as Error;
    return value instanceof Error && typeof thrown.message === 'string' && typeof thrown.name === 'string' && ['string', 'undefined'].includes(typeof thrown.stack);
  }, false);
  if (!readable) {
    const logged = typeof value === 'string' ? cutText(value, ERROR_TEXT_LIMITS.messageChars) : value;
    return { error, permanent, thrown: describedError(value, error, permanent), logged };
  }
  return { error, permanent, thrown: readableForBullmq(value as Error, permanent, error), logged: withinLimits(value as Error, error) };
}

/** A readable error as BullMQ gets it: a permanent one as an UnrecoverableError, so it is not retried. */
function readableForBullmq(error: Error, permanent: boolean, described: ExecutionError): Error {
  if (!permanent || error instanceof UnrecoverableError) return withinLimits(error, described);
  // Keep the handler's stack: the dashboard and API show where it failed, not where we rethrew.
  return withinLimits(withStack(new UnrecoverableError(error.message), error.stack, error), described);
}

/**
 * What BullMQ gets for a value it cannot read: an Error carrying the recorded text, which
 * also makes its failedReason the same text as the audit row's (a thrown string would be '').
 */
function describedError(value: unknown, described: ExecutionError, permanent: boolean): Error {
  const wrapped = permanent ? new UnrecoverableError(described.message) : new Error(described.message);
  // No stack of ours: a thrown non-Error has none, and where we wrapped it tells nothing.
  return withStack(wrapped, described.stack ?? '', value);
}

/**
 * BullMQ stores the message (as failedReason) and each attempt's stack in the job's hash as
 * they are, so an error carrying a whole HTTP response would cost megabytes of Redis per
 * failed job. Past the audit row's limits, BullMQ gets the row's message and a stack cut to
 * the same size: an object whose prototype is the error, so its class, name and anything a
 * backoff strategy reads are the handler's, and the handler's error itself is left as it is.
 */
function withinLimits(error: Error, described: ExecutionError): Error {
  const stack = error.stack ?? '';
  if (error.message.length <= ERROR_TEXT_LIMITS.messageChars && stack.length <= ERROR_TEXT_LIMITS.stackChars) return error;
  const header = `${error.name}: ${error.message}`;
  const frames = stack.startsWith(header) ? stack.slice(header.length) : '';
  const cutStack = cutText(`${error.name}: ${described.message}${frames}`, ERROR_TEXT_LIMITS.stackChars);
  return Object.create(error, {
    message: { value: described.message, writable: true, configurable: true },
    stack: { value: cutStack, writable: true, configurable: true },
  }) as Error;
}

/** `error` with `stack`'s frames under its own first line, and `cause`. */
function withStack(error: Error, stack: string | undefined, cause: unknown): Error {
  const replaced = stack?.replace(/^[^\n]*/, `${error.name}: ${error.message}`);
  return Object.assign(error, { cause, ...(replaced ? { stack: replaced } : {}) });
}

/**
 * The failure of an execution whose result its record cannot hold: the audit appender
 * rejects a record only when JSON.stringify refuses it (a BigInt, a cycle, a toJSON or
 * getter that throws, nesting too deep), and only the result can hold such a value.
 * Permanent: the same handler would return the same kind of value, so a retry would only
 * repeat its side effects.
 */
export function unstorableResult(reason: unknown): UnrecoverableError {
  const why = describeError(reason).message.replace(/\.$/, '');
  const hint = /bigint/i.test(why) ? ' (return strings for bigints)' : '';
  const error = new UnrecoverableError(`the handler's result cannot be stored as JSON: ${why}${hint}`);
  // Where it was noticed (the processor) says nothing about where the value came from.
  return Object.assign(error, { cause: reason, stack: `${error.name}: ${error.message}` });
}
