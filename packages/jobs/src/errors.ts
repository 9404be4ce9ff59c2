/** Named errors handlers throw. Matched by `name`, so the check survives process boundaries. */

/** A failure that retrying cannot fix (bad input, missing record): the job fails at once. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

export function isPermanentError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'PermanentError' || error.name === 'UnrecoverableError');
}
