/** Per-type execution statistics and the health verdict derived from them. */
import { and, eq, gte, sql, type SQL } from 'drizzle-orm';
import { InvalidAuditQueryError } from './errors.ts';
import { workerJobs } from './schema.ts';
import type { AuditDb } from './store.ts';

export interface MetricsQuery {
  /** One type; omit for all types together. */
  type?: string;
  /** Executions that completed within this many ms before now. */
  windowMs: number;
  /** Clock for tests; default `new Date()`. */
  now?: Date;
}

export interface JobMetrics {
  /** The type, or null for all types together. */
  type: string | null;
  /** Executions (every attempt counts). */
  count: number;
  completed: number;
  /** Failed executions, including attempts that were retried. */
  failed: number;
  /** Failed executions that were followed by a retry. */
  retried: number;
  /**
   * completed / (completed + failures that were final), 0..1; null with no finished job.
   * An attempt that failed and was retried is not a lost job, so it does not lower the rate.
   */
  successRate: number | null;
  p50DurationMs: number | null;
  p95DurationMs: number | null;
  maxDurationMs: number | null;
  lastRunAt: Date | null;
}

export type HealthStatus = 'ok' | 'warning' | 'critical';

export interface TypeHealth extends JobMetrics {
  type: string;
  status: HealthStatus;
}

export interface HealthQuery {
  /** Default one hour. */
  windowMs?: number;
  now?: Date;
}

export const DEFAULT_HEALTH_WINDOW_MS = 3_600_000;

/**
 * Seed 003's thresholds: below 50% success is critical, below 80% a warning. With no job
 * finished in the window (no rate), failed attempts still waiting for their retry are a
 * warning: every run of the type failed, and none has succeeded yet.
 */
export function classifyHealth(successRate: number | null, retried = 0): HealthStatus {
  if (successRate === null) return retried > 0 ? 'warning' : 'ok';
  if (successRate < 0.5) return 'critical';
  if (successRate < 0.8) return 'warning';
  return 'ok';
}

export async function getJobMetrics(db: AuditDb, query: MetricsQuery): Promise<JobMetrics> {
  const [row] = await selectMetrics(db, query, false);
  return row ?? emptyMetrics(query.type ?? null);
}

export async function getJobMetricsByType(db: AuditDb, query: Omit<MetricsQuery, 'type'>): Promise<JobMetrics[]> {
  return selectMetrics(db, query, true);
}

export async function getHealth(db: AuditDb, { windowMs = DEFAULT_HEALTH_WINDOW_MS, now }: HealthQuery): Promise<TypeHealth[]> {
  const byType = await getJobMetricsByType(db, { windowMs, now });
  return byType.map((metrics) => ({ ...metrics, type: metrics.type!, status: classifyHealth(metrics.successRate, metrics.retried) }));
}

const MAX_WINDOW_MS = 1000 * 365.25 * 86_400_000;

async function selectMetrics(db: AuditDb, query: MetricsQuery, perType: boolean): Promise<JobMetrics[]> {
  // Up to 1000 years: a longer window reaches before year 1, which neither Date nor Postgres takes.
  if (!Number.isFinite(query.windowMs) || query.windowMs <= 0 || query.windowMs > MAX_WINDOW_MS) {
    throw new InvalidAuditQueryError('windowMs', `windowMs must be a positive number of milliseconds up to ${MAX_WINDOW_MS} (1000 years), got "${query.windowMs}"`);
  }
  const since = new Date((query.now ?? new Date()).getTime() - query.windowMs);
  const where: SQL[] = [gte(workerJobs.completedAt, since)];
  if (query.type !== undefined) where.push(eq(workerJobs.type, query.type));
  const { status, willRetry, durationMs, completedAt } = workerJobs;
  const columns = {
    count: sql<number>`count(*)::int`,
    completed: sql<number>`(count(*) filter (where ${status} = 'completed'))::int`,
    failed: sql<number>`(count(*) filter (where ${status} = 'failed'))::int`,
    retried: sql<number>`(count(*) filter (where ${status} = 'failed' and ${willRetry}))::int`,
    p50: sql<number | null>`percentile_cont(0.5) within group (order by ${durationMs})`.mapWith(Number),
    p95: sql<number | null>`percentile_cont(0.95) within group (order by ${durationMs})`.mapWith(Number),
    max: sql<number | null>`max(${durationMs})`.mapWith(Number),
    lastRunAt: sql<Date | null>`max(${completedAt})`.mapWith(completedAt),
  };
  const rows = perType
    ? await db.select({ type: workerJobs.type, ...columns }).from(workerJobs).where(and(...where)).groupBy(workerJobs.type).orderBy(workerJobs.type)
    : (await db.select(columns).from(workerJobs).where(and(...where))).map((row) => ({ ...row, type: query.type ?? null }));
  return rows.filter((row) => row.count > 0).map((row) => {
    const final = row.completed + row.failed - row.retried;
    return {
      type: row.type,
      count: row.count,
      completed: row.completed,
      failed: row.failed,
      retried: row.retried,
      successRate: final > 0 ? row.completed / final : null,
      p50DurationMs: row.p50 === null ? null : Math.round(row.p50),
      p95DurationMs: row.p95 === null ? null : Math.round(row.p95),
      maxDurationMs: row.max,
      lastRunAt: row.lastRunAt,
    };
  });
}

function emptyMetrics(type: string | null): JobMetrics {
  return { type, count: 0, completed: 0, failed: 0, retried: 0, successRate: null, p50DurationMs: null, p95DurationMs: null, maxDurationMs: null, lastRunAt: null };
}
