/** Named errors handlers throw. Matched by `name`, so the check survives process boundaries. */

/** A failure that retrying cannot fix (bad input, missing record): the job fails at once. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** A PermanentError (a subclass too, whatever its `name`), or an error named like one or like BullMQ's UnrecoverableError. */
export function isPermanentError(error: unknown): boolean {
  return error instanceof PermanentError || (error instanceof Error && (error.name === 'PermanentError' || error.name === 'UnrecoverableError'));
}
