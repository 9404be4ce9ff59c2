/**
 * What a handler's failure becomes: the error its execution record stores, whether it is
 * permanent, and the Error handed to BullMQ. Nothing here throws, whatever the handler threw.
 * Also the failure of a handler whose result cannot be stored.
 */
import { UnrecoverableError } from 'bullmq';
import { isPermanentError } from '@sluice/jobs';
import { describeError, readSafely, type ExecutionError } from './execution-record.ts';

export interface HandlerFailure {
  /** What the execution record stores. */
  error: ExecutionError;
  /** A PermanentError or UnrecoverableError: no retry. */
  permanent: boolean;
  /** What the processor throws for BullMQ to fail the job with. */
  thrown: Error;
}

export function handlerFailure(value: unknown): HandlerFailure {
  const error = describeError(value);
  const permanent = readSafely(() => isPermanentError(value), false);
  return { error, permanent, thrown: errorForBullmq(value, error, permanent) };
}

/**
 * BullMQ reads the thrown value's `message`, `name` and `stack` unguarded: a `null`, or an
 * Error with a throwing getter, makes its failure handling throw, and the job stays active
 * until stalled-job recovery runs it again. So it gets the handler's own error only when
 * those read as strings, and otherwise an Error carrying the recorded text, which also
 * makes its failedReason the same text as the audit row's (a thrown string would be '').
 */
function errorForBullmq(value: unknown, described: ExecutionError, permanent: boolean): Error {
  const readable = readSafely(() => {
    const error = value as Error;
    return value instanceof Error && typeof error.message === 'string' && typeof error.name === 'string' && ['string', 'undefined'].includes(typeof error.stack);
  }, false);
  if (readable) {
    const error = value as Error;
    if (!permanent || error instanceof UnrecoverableError) return error;
    // Keep the handler's stack: the dashboard and API show where it failed, not where we rethrew.
    return withStack(new UnrecoverableError(error.message), error.stack, error);
  }
  const wrapped = permanent ? new UnrecoverableError(described.message) : new Error(described.message);
  // No stack of ours: a thrown non-Error has none, and where we wrapped it tells nothing.
  return withStack(wrapped, described.stack ?? '', value);
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
