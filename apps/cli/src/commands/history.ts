/** `queue:history`: recent executions from the audit table (`worker_jobs`), newest first. */
import { existsSync } from 'node:fs';
import type { Config } from '@sluice/config';
import {
  checkHistoryQuery,
  embeddedStoreDir,
  EXECUTION_STATUSES,
  HISTORY_MAX_LIMIT,
  InvalidAuditQueryError,
  migrate,
  openAuditStore,
  READER_WAIT_FOR_READER_MS,
  type AuditStore,
  type AuditStoreBusyError,
  type ExecutionStatus,
  type HistoryPage,
  type HistoryQuery,
  type WorkerJob,
} from '@sluice/db';
import type { Command } from '../command.ts';
import { UsageError } from '../errors.ts';
import { noMorePositionals, parseFlags, wholeNumber } from '../flags.ts';
import { instant, writtenAt } from '../time-flag.ts';
import { formatDuration, formatTime, printable, table } from '../format.ts';
import { historyFromServer } from '../ask-server.ts';

const FLAGS = {
  type: { type: 'string' },
  status: { type: 'string' },
  'job-id': { type: 'string', aliases: ['jobId'] },
  since: { type: 'string' },
  until: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const ERROR_WIDTH = 60;

export const command: Command = {
  summary: 'recent executions from the audit table (worker_jobs)',
  help: (registry) => `Usage: bun run queue:history [flags]

Prints recent executions, newest first: one row per attempt, from the audit
table (DATABASE_URL, or the embedded store under DATA_DIR). Job types:
${Object.keys(registry).join(', ')}.

Flags:
  --type TYPE        only this job type
  --status STATUS    completed or failed
  --job-id ID        every execution of one job (alias --jobId)
  --since WHEN       only executions that finished at or after WHEN
  --until WHEN       only executions that finished at or before WHEN (all of
                     the second, minute or day it names)
  --limit N          rows to print, 1..${HISTORY_MAX_LIMIT} (default 20)
  --cursor C         continue after the last page (printed as "next page: --cursor C")
  --json             print { rows, nextCursor } as JSON
  -h, --help         show this help

WHEN is a span ago (30m, 2h, 7d; also s), a time with its zone
(2026-12-01T03:00:00Z), or a local time as the table prints it
(2026-12-01 03:00:00, 2026-12-01 03:00, or 2026-12-01 for midnight).

Examples:
  bun run queue:history
  bun run queue:history --type echo --status failed --limit 50
  bun run queue:history --job-id 42 --json
  bun run queue:history --status failed --since 2h
  bun run queue:history --since "2026-12-01" --until "2026-12-01 12:00"

While a server holds the embedded store (no DATABASE_URL), the rows are read
through its API at HOST:PORT, and stderr says so.

Exit codes: 0 printed, 1 audit store unreachable (the embedded store held by a
server that does not answer either) or the read ran past AUDIT_READ_TIMEOUT
(narrow it with --type, --status, --job-id or --since/--until), 2 bad arguments.`,

  async run(args, ctx) {
    const { flags, positionals } = parseFlags(args, FLAGS);
    noMorePositionals(positionals, 0);
    const status = flags.status;
    if (status !== undefined && !EXECUTION_STATUSES.includes(status as ExecutionStatus)) {
      throw new UsageError(`--status must be one of ${EXECUTION_STATUSES.join(', ')}, got "${status}"`, '--status');
    }
    // An empty filter matches nothing, and the server's API refuses it: the same answer either way.
    for (const name of ['type', 'job-id'] as const) {
      if (flags[name] !== undefined && flags[name].trim() === '') throw new UsageError(`--${name} needs a value`, `--${name}`);
    }
    const limit = flags.limit === undefined ? 20 : wholeNumber('limit', flags.limit, { min: 1 });
    if (limit > HISTORY_MAX_LIMIT) throw new UsageError(`--limit must be at most ${HISTORY_MAX_LIMIT}, got ${limit}`, '--limit');
    const since = flags.since === undefined ? undefined : instant('since', flags.since);
    const until = flags.until === undefined ? undefined : instant('until', flags.until, { end: true });
    // To the millisecond here, quoting the flags; the store checks the digits past it.
    let skipped = false;
    if (since && until && Date.parse(since) > Date.parse(until)) {
      const from = writtenAt(flags.since!);
      const to = writtenAt(flags.until!, { end: true });
      // Local times in the order written, in the hour daylight saving skips: no clock showed
      // that range, so nothing finished in it. Written the wrong way round, it is a mistake.
      if (from === null || to === null || from > to) {
        throw new UsageError(`--since ${flags.since} is later than --until ${flags.until}: no execution can match`, '--since');
      }
      skipped = true;
    }

    if (flags.cursor !== undefined && flags.cursor.trim() === '') throw new UsageError('--cursor needs a value (printed as "next page: --cursor C")', '--cursor');
    const query = { type: flags.type, status: status as ExecutionStatus | undefined, jobId: flags['job-id'], since, until, limit, cursor: flags.cursor };
    try {
      // The same checks the store makes, also when there is no store to ask.
      checkHistoryQuery(skipped ? { ...query, since: undefined, until: undefined } : query);
    } catch (error) {
      if (error instanceof InvalidAuditQueryError) throw new UsageError(error.message, flagOf(error.field));
      throw error;
    }
    if (skipped) {
      await ctx.print(flags.json ? JSON.stringify({ rows: [], nextCursor: null }, null, 2) : 'no executions recorded that match');
      return 0;
    }

    // Reading must not create an embedded store where none was ever written.
    const embedded = embeddedStoreDir(ctx.config);
    if (embedded && !existsSync(embedded)) {
      await ctx.print(flags.json ? JSON.stringify({ rows: [], nextCursor: null }, null, 2) : `no executions recorded yet (no audit store in ${embedded})`);
      return 0;
    }
    const page = await readHistory(ctx.config, query).catch((error) => {
      if (error?.name === 'InvalidAuditQueryError') throw new UsageError(error.message, flagOf(error.field));
      throw error;
    });
    if (flags.json) {
      await ctx.print(JSON.stringify(page, null, 2));
      return 0;
    }
    if (page.rows.length === 0) {
      // A retired type's rows are still found, so a name the registry lacks is no error; with
      // nothing found, though, it is most likely a typo, and "nothing matched" alone would hide it.
      const unknown = flags.type !== undefined && !Object.hasOwn(ctx.registry, flags.type);
      await ctx.print(
        unknown
          ? `no executions recorded that match; "${printable(flags.type!)}" is not a job type here (known types: ${Object.keys(ctx.registry).join(', ')})`
          : 'no executions recorded that match',
      );
      return 0;
    }
    await ctx.print(...table(['FINISHED', 'JOB', 'TYPE', 'TRY', 'STATUS', 'TOOK', 'WORKER', 'ERROR'], page.rows.map(cells)));
    if (page.nextCursor) await ctx.print(`next page: --cursor ${page.nextCursor}`);
    return 0;
  },
};

/** The flag for a field of the store's query. */
const flagOf = (field: string | undefined) => `--${field === 'jobId' ? 'job-id' : (field ?? 'query')}`;

/** From the store itself, or through the server when the embedded store is open there. */
async function readHistory(config: Config, query: HistoryQuery): Promise<HistoryPage> {
  let store: AuditStore;
  try {
    // A reader: a server starting meanwhile waits for this read instead of failing.
    store = await openAuditStore(config, { maxConnections: 1, reader: true, waitForReaderMs: READER_WAIT_FOR_READER_MS });
  } catch (error) {
    if ((error as Error)?.name !== 'AuditStoreBusyError') throw error;
    const { page, url } = await historyFromServer(config, query, error as AuditStoreBusyError).catch((cause: Error) => {
      if (cause.name === 'InvalidAuditQueryError') throw cause;
      throw new Error(`${(error as Error).message} Asking the server failed too: ${cause.message}`);
    });
    process.stderr.write(`(read through the server at ${url}, which has the embedded audit store open)\n`);
    return page;
  }
  try {
    // An embedded directory may predate the latest migration; Postgres is migrated by the server.
    if (store.kind === 'pglite') await migrate(store);
    return await store.getJobHistory(query);
  } finally {
    await store.close();
  }
}

function cells(row: WorkerJob): string[] {
  const status = row.status === 'failed' && row.willRetry ? 'failed (retrying)' : row.status;
  const error = row.error ? `${row.error.name}: ${row.error.message}`.replace(/\s+/g, ' ') : '';
  return [
    formatTime(row.completedAt),
    row.jobId,
    row.type,
    String(row.attempt),
    status,
    formatDuration(row.durationMs),
    row.worker,
    error.length > ERROR_WIDTH ? `${error.slice(0, ERROR_WIDTH - 1)}…` : error,
  ];
}
