/** Errors the CLI itself raises; main.ts maps them (and the queue's) to exit codes by `name`. */

/** Bad command-line input: exit code 2, nothing changed. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly code = 'USAGE';
  /** The flag or argument at fault, e.g. `--delay` or `<type>`. */
  readonly field?: string;
  constructor(message: string, field?: string) {
    super(message);
    this.field = field;
  }
}

/** The thing named on the command line does not exist in Redis (a schedule key): exit code 1. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
  readonly code = 'NOT_FOUND';
}
