/** Execution history: filtered, newest first, with a cursor that stays stable while rows arrive. */
import { and, desc, eq, gte, sql, type SQL } from 'drizzle-orm';
import { InvalidAuditQueryError } from './errors.ts';
import { EXECUTION_STATUSES, workerJobs, type ExecutionStatus, type WorkerJob } from './schema.ts';
import type { AuditDb } from './store.ts';

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 1000;

export interface HistoryQuery {
  type?: string;
  status?: ExecutionStatus;
  jobId?: string;
  /** Executions that completed at or after this instant. */
  since?: Date;
  /** Executions that completed at or before this instant (anywhere in its millisecond). */
  until?: Date;
  /** Rows per page, 1..1000. Default 50. */
  limit?: number;
  /** `nextCursor` of the previous page; omit for the newest rows. */
  cursor?: string | null;
}

export interface HistoryPage {
  rows: WorkerJob[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/**
 * Rows are ordered by (completed_at, id) descending and the cursor names the last row
 * seen, so rows written meanwhile (even late ones from an audit backlog) never shift a
 * page: each later page continues strictly below the previous one.
 */
export async function getJobHistory(db: AuditDb, query: HistoryQuery): Promise<HistoryPage> {
  const limit = query.limit ?? HISTORY_DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > HISTORY_MAX_LIMIT) {
    throw new InvalidAuditQueryError('limit', `limit must be a whole number from 1 to ${HISTORY_MAX_LIMIT}, got "${query.limit}"`);
  }
  if (query.status !== undefined && !EXECUTION_STATUSES.includes(query.status)) {
    throw new InvalidAuditQueryError('status', `status must be one of ${EXECUTION_STATUSES.join(', ')}, got "${query.status}"`);
  }
  for (const field of ['type', 'jobId'] as const) {
    // Postgres text cannot hold U+0000; such a filter matches nothing and must not read as an outage.
    if (query[field]?.includes('\u0000')) throw new InvalidAuditQueryError(field, `${field} must not contain the NUL character (U+0000)`);
  }
  for (const field of ['since', 'until'] as const) {
    const value = query[field];
    if (value !== undefined && !(value instanceof Date && storableTime(value.getTime()))) {
      throw new InvalidAuditQueryError(field, `${field} must be a valid date from year 1 to 9999`);
    }
  }

  const where: SQL[] = [];
  if (query.type !== undefined) where.push(eq(workerJobs.type, query.type));
  if (query.status !== undefined) where.push(eq(workerJobs.status, query.status));
  if (query.jobId !== undefined) where.push(eq(workerJobs.jobId, query.jobId));
  if (query.since) where.push(gte(workerJobs.completedAt, query.since));
  // All of until's millisecond: rows written by SQL (now(), an import) keep microseconds, and
  // one finished at .123456 is "at .123" to anyone holding a JavaScript Date.
  if (query.until) where.push(sql`${workerJobs.completedAt} < ${query.until.toISOString()}::timestamptz + interval '1 millisecond'`);
  if (query.cursor) {
    const after = decodeCursor(query.cursor);
    // Microseconds, as Postgres keeps them: a millisecond cursor would skip rows written by SQL's now() or imported.
    // Seconds and the microseconds within them apart: bigint * interval goes through float8, exact only below 2^53.
    const seconds = after.completedAtUs / 1_000_000n - (after.completedAtUs % 1_000_000n < 0n ? 1n : 0n);
    const micros = after.completedAtUs - seconds * 1_000_000n;
    const at = sql`timestamptz 'epoch' + ${seconds.toString()}::bigint * interval '1 second' + ${micros.toString()}::bigint * interval '1 microsecond'`;
    where.push(sql`(${workerJobs.completedAt}, ${workerJobs.id}) < (${at}, ${after.id})`);
  }

  const rows = await db
    .select({ row: workerJobs, completedAtUs: sql<string>`(extract(epoch from ${workerJobs.completedAt}) * 1000000)::bigint::text` })
    .from(workerJobs)
    .where(and(...where))
    .orderBy(desc(workerJobs.completedAt), desc(workerJobs.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page.map((r) => r.row), nextCursor: rows.length > limit && last ? encodeCursor(last.completedAtUs, last.row.id) : null };
}

/** `u<completed_at in µs since 1970>.<id>`, base64url. */
function encodeCursor(completedAtUs: string, id: number): string {
  return Buffer.from(`u${completedAtUs}.${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { completedAtUs: bigint; id: number } {
  // `u`: microseconds; without it, a cursor from before they were kept, in milliseconds.
  const match = /^(u?)(-?\d{1,18})\.(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString());
  const id = match ? Number(match[3]) : Number.NaN;
  const completedAtUs = match ? BigInt(match[2]!) * (match[1] ? 1n : 1000n) : 0n;
  if (!match || !storableTime(Number(completedAtUs / 1000n)) || !Number.isSafeInteger(id)) {
    throw new InvalidAuditQueryError('cursor', 'cursor is not one this API returned');
  }
  return { completedAtUs, id };
}

/** Years 1 to 9999: what both a JavaScript date and Postgres's ISO input take, so no query fails in the database. */
function storableTime(ms: number): boolean {
  const year = new Date(ms).getUTCFullYear();
  return Number.isFinite(ms) && year >= 1 && year <= 9999;
}
