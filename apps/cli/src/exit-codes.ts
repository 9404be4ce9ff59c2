/** Exit codes, and the one place errors become them. Matched by `name`, like every Sluice error. */

export const EXIT = {
  ok: 0,
  /** Something failed while running: Redis down, a schedule not found, an unexpected error. */
  failure: 1,
  /** The command line or the job it describes is wrong; nothing was changed. */
  usage: 2,
} as const;

const USAGE_ERRORS = new Set(['UsageError', 'UnknownJobTypeError', 'InvalidJobDataError', 'InvalidOptionError']);

export function exitCodeFor(error: unknown): number {
  return error instanceof Error && USAGE_ERRORS.has(error.name) ? EXIT.usage : EXIT.failure;
}
