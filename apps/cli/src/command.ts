/** What every CLI command looks like, and what main.ts hands it. */
import type { Config } from '@sluice/config';
import type { JobRegistry } from '@sluice/jobs';
import type { QueueManager } from '@sluice/queue';

export interface CliContext {
  readonly config: Config;
  readonly registry: JobRegistry;
  /** The producer-side queue, opened on first use (fails fast when Redis is down); main.ts closes it. */
  queue(): Promise<QueueManager<JobRegistry>>;
  /** Writes lines to stdout and resolves once they are flushed (process.exit would cut a pipe short). */
  print(...lines: string[]): Promise<void>;
  /** Fires on the first Ctrl+C or SIGTERM; handlers are installed on first call, so short commands keep the default. */
  interrupted(): AbortSignal;
}

export interface Command {
  /** One line for `--help` of the whole CLI. */
  summary: string;
  /** The full `--help` text of this command (the registry lists the job types). */
  help(registry: JobRegistry): string;
  /** Resolves to the exit code; throws for failures (main.ts maps errors to codes). */
  run(args: string[], ctx: CliContext): Promise<number>;
}
