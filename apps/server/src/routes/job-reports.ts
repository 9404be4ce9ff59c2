/** /api/v1/jobs read-outs: stats, health, recent failures (Redis) and execution history (audit table). */
import { hostname } from 'node:os';
import { Elysia } from 'elysia';
import type { Job } from 'bullmq';
import { AuditQueryTimeoutError, type TypeHealth } from '@sluice/db';
import { UnknownJobTypeError, type JobEnvelope } from '@sluice/queue';
import { readAudit, type ServerDeps } from '../deps.ts';
import { failureView } from './job-view.ts';
import { FailuresQuery, HistoryQuery, strictQuery, WindowQuery } from './schemas.ts';

const DEFAULT_WINDOW_MS = 3_600_000;

/**
 * Which process answered an audit read (`<pid> <host>`, as the embedded store's lock file
 * names its holder): the CLI reads through the server only when the embedded store is open
 * elsewhere, and checks that this server is the process that has it open.
 */
export const PROCESS_HEADER = 'x-sluice-process';
const thisProcess = `${process.pid} ${hostname()}`;
const DEFAULT_FAILURES = 20;
/** A type filter walks the failed set page by page; stop after this many jobs. */
const FAILURE_SCAN_LIMIT = 5000;
const FAILURE_PAGE = 200;

type Level = 'ok' | 'warning' | 'critical';
const worst = (levels: Level[]): Level => (levels.includes('critical') ? 'critical' : levels.includes('warning') ? 'warning' : 'ok');

export function createJobReportRoutes({ queue, audit, supervisor }: Pick<ServerDeps, 'queue' | 'audit' | 'supervisor'>) {
  const knownType = (type: string | undefined) => {
    if (type !== undefined && !queue.types.includes(type)) throw new UnknownJobTypeError(type, queue.types);
  };

  return new Elysia({ name: 'job-reports', prefix: '/api/v1/jobs' })
    .get(
      '/stats',
      async ({ query }) => {
        const windowMs = query.windowMs ?? DEFAULT_WINDOW_MS;
        const [counts, paused, types] = await Promise.all([
          queue.getCounts(),
          queue.queue.isPaused(),
          // Queue counts come from Redis; an audit outage only blanks the per-type numbers. A window
          // too wide to read in time is the caller's to narrow, so it is answered (504), not hidden.
          readAudit(audit, (a) => a.getJobMetricsByType({ windowMs })).catch((error) => {
            if (error instanceof AuditQueryTimeoutError) throw error;
            return null;
          }),
        ]);
        return { counts, paused, windowMs, types };
      },
      { query: WindowQuery, transform: strictQuery(WindowQuery), detail: { summary: 'Jobs per state, and per-type execution metrics over a window (default 1 h)', tags: ['reports'] } },
    )
    .get(
      '/health',
      async ({ query, set }) => {
        set.headers[PROCESS_HEADER] = thisProcess;
        const windowMs = query.windowMs ?? DEFAULT_WINDOW_MS;
        const [queueHealth, byType] = await Promise.all([
          queue.getHealth(),
          audit
            ? readAudit(audit, (a) => a.getHealth({ windowMs })).then(
                (rows) => ({ status: 'up' as const, rows }),
                (error: Error) => ({ status: 'down' as const, rows: [] as TypeHealth[], error: error.message }),
              )
            : { status: 'disabled' as const, rows: [] as TypeHealth[] },
        ]);
        const processes = supervisor?.snapshot() ?? [];
        const workersUp = processes.filter((p) => p.state === 'ready').length;
        // Every registered type (idle ones as ok), then types only the audit table knows (retired,
        // renamed, or run by workers with another registry): they count too. With no audit table
        // to read, no type has a verdict: `unknown`, not an `ok` with no runs.
        const types: TypeReport[] =
          byType.status === 'up'
            ? [...queue.types.map((type) => byType.rows.find((row) => row.type === type) ?? idleType(type)), ...byType.rows.filter((row) => !queue.types.includes(row.type))]
            : queue.types.map(unknownType);
        const status = worst([
          queueHealth.redis.status === 'down' ? 'critical' : 'ok',
          supervisor && workersUp === 0 ? 'critical' : 'ok',
          byType.status === 'down' ? 'warning' : 'ok',
          ...types.map((t) => (t.status === 'unknown' ? 'ok' : t.status)),
        ]);
        return {
          status,
          windowMs,
          redis: queueHealth.redis,
          database: { status: byType.status, ...('error' in byType ? { error: byType.error } : {}) },
          workers: { up: workersUp, total: processes.length, processes },
          queue: { paused: queueHealth.paused, counts: queueHealth.counts },
          lastProcessedAt: queueHealth.lastProcessedAt,
          types,
        };
      },
      { query: WindowQuery, transform: strictQuery(WindowQuery), detail: { summary: 'Overall and per-type health (success rate < 80% warning, < 50% critical), Redis, workers', tags: ['reports'] } },
    )
    .get(
      '/failures',
      async ({ query }) => {
        knownType(query.type);
        const limit = query.limit ?? DEFAULT_FAILURES;
        const found: Job<JobEnvelope>[] = [];
        for (let start = 0; found.length < limit && start < FAILURE_SCAN_LIMIT; start += FAILURE_PAGE) {
          // Newest first: the failed set is ordered by finish time.
          const page = (await queue.queue.getJobs(['failed'], start, start + FAILURE_PAGE - 1, false)) as Job<JobEnvelope>[];
          found.push(...page.filter((job) => job && (query.type === undefined || job.name === query.type)));
          if (page.length < FAILURE_PAGE) break;
        }
        const failures = found.slice(0, limit).map(failureView);
        return { failures, count: failures.length };
      },
      { query: FailuresQuery, transform: strictQuery(FailuresQuery), detail: { summary: 'Recent failed jobs (final failures still in Redis), newest first', tags: ['reports'] } },
    )
    .get(
      '/history',
      async ({ query, set }) => {
        set.headers[PROCESS_HEADER] = thisProcess;
        const page = await readAudit(audit, (a) =>
          a.getJobHistory({
            type: query.type,
            status: query.status,
            jobId: query.jobId,
            // As sent: the store reads them to the microsecond.
            since: query.since,
            until: query.until,
            limit: query.limit,
            cursor: query.cursor,
          }),
        );
        return page;
      },
      { query: HistoryQuery, transform: strictQuery(HistoryQuery), detail: { summary: 'Executions from the audit table, newest first; pass nextCursor back as cursor', tags: ['reports'] } },
    );
}

/** A type's line in /health: its figures, or none at all while the audit table cannot be read. */
type TypeReport = TypeHealth | (Record<Exclude<keyof TypeHealth, 'type' | 'status'>, null> & { type: string; status: 'unknown' });

function unknownType(type: string): TypeReport {
  return {
    type, status: 'unknown', count: null, completed: null, failed: null, retried: null, successRate: null,
    p50DurationMs: null, p95DurationMs: null, maxDurationMs: null, lastRunAt: null,
  };
}

function idleType(type: string): TypeHealth {
  return {
    type, status: 'ok', count: 0, completed: 0, failed: 0, retried: 0, successRate: null,
    p50DurationMs: null, p95DurationMs: null, maxDurationMs: null, lastRunAt: null,
  };
}
