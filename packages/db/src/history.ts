/** Execution history: filtered, newest first, with a cursor that stays stable while rows arrive. */
import { and, desc, eq, sql, type SQL } from 'drizzle-orm';
import { InvalidAuditQueryError } from './errors.ts';
import { EXECUTION_STATUSES, workerJobs, type ExecutionStatus, type WorkerJob } from './schema.ts';
import type { AuditDb } from './store.ts';

export const HISTORY_DEFAULT_LIMIT = 50;
export const HISTORY_MAX_LIMIT = 1000;

export interface HistoryQuery {
  type?: string;
  status?: ExecutionStatus;
  jobId?: string;
  /**
   * Executions that completed at or after this instant: a Date, or an RFC 3339 date-time
   * string (`2026-12-01T03:00:00.123456Z`), exact to the microsecond as Postgres keeps it.
   */
  since?: HistoryInstant;
  /**
   * Executions that completed at or before this instant, anywhere in its last digit: a Date or
   * a string with up to 3 fraction digits takes in all of its millisecond (a row finished at
   * .123456 is "at .123" to anyone holding a Date), one with more all of its microsecond.
   */
  until?: HistoryInstant;
  /** Rows per page, 1..1000. Default 50. */
  limit?: number;
  /** `nextCursor` of the previous page; omit for the newest rows. */
  cursor?: string | null;
}

/** A Date, or an RFC 3339 date-time string (`T` or a space, `Z` or `±HH:MM`, any fraction digits). */
export type HistoryInstant = Date | string;

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
  const { limit, since, untilEndUs, after } = checkHistoryQuery(query);

  const where: SQL[] = [];
  if (query.type !== undefined) where.push(eq(workerJobs.type, query.type));
  if (query.status !== undefined) where.push(eq(workerJobs.status, query.status));
  if (query.jobId !== undefined) where.push(eq(workerJobs.jobId, query.jobId));
  // Microseconds, as Postgres keeps them: rows written by SQL (now(), an import) carry them.
  if (since !== undefined) where.push(sql`${workerJobs.completedAt} >= ${atMicros(since)}`);
  if (untilEndUs !== undefined) where.push(sql`${workerJobs.completedAt} < ${atMicros(untilEndUs)}`);
  // A millisecond cursor would skip rows that share one with the last row seen.
  if (after) where.push(sql`(${workerJobs.completedAt}, ${workerJobs.id}) < (${atMicros(after.completedAtUs)}, ${after.id})`);

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

/**
 * Checks a history query as getJobHistory would, without a database (InvalidAuditQueryError
 * naming the field), and gives its bounds in microseconds since 1970: `since` inclusive,
 * `untilEndUs` exclusive.
 */
export function checkHistoryQuery(query: HistoryQuery): {
  limit: number;
  since?: bigint;
  untilEndUs?: bigint;
  after?: { completedAtUs: bigint; id: number };
} {
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
  const since = query.since === undefined ? undefined : boundOf('since', query.since);
  const until = query.until === undefined ? undefined : boundOf('until', query.until);
  // until's bound is exclusive: the end of the millisecond or microsecond it names.
  const untilEndUs = until && until.us + until.unitUs;
  if (since && untilEndUs !== undefined && since.us >= untilEndUs) {
    throw new InvalidAuditQueryError('since', `since (${describe(query.since!)}) is later than until (${describe(query.until!)}): no execution can match`);
  }
  return { limit, since: since?.us, untilEndUs, after: query.cursor ? decodeCursor(query.cursor) : undefined };
}

/** A timestamptz from microseconds since 1970, exactly. */
function atMicros(us: bigint): SQL {
  // Seconds and the microseconds within them apart: bigint * interval goes through float8, exact only below 2^53.
  const seconds = us / 1_000_000n - (us % 1_000_000n < 0n ? 1n : 0n);
  const micros = us - seconds * 1_000_000n;
  return sql`(timestamptz 'epoch' + ${seconds.toString()}::bigint * interval '1 second' + ${micros.toString()}::bigint * interval '1 microsecond')`;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i;
const INSTANT_EXAMPLE = 'an RFC 3339 date-time from year 1 to 9999, e.g. 2026-12-01T03:00:00Z or 2026-12-01T04:00:00.250+01:00';

/**
 * A since/until value as microseconds since 1970, and how much time it names from there
 * (`unitUs`, what until takes in): its millisecond for a Date or up to 3 fraction digits, its
 * microsecond for more. Digits past the microsecond, which no row has, round the bound
 * inward: since up, until down. A leap second (`23:59:60`) is refused: no row can be in one.
 */
function boundOf(field: 'since' | 'until', value: HistoryInstant): { us: bigint; unitUs: bigint } {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (!storableTime(ms)) throw new InvalidAuditQueryError(field, `${field} must be ${INSTANT_EXAMPLE}; got an invalid or out-of-range Date`);
    return { us: BigInt(ms) * 1000n, unitUs: 1000n };
  }
  const match = typeof value === 'string' ? DATE_TIME.exec(value) : null;
  const refused = () => new InvalidAuditQueryError(field, `${field} must be ${INSTANT_EXAMPLE}; got ${describe(value)}`);
  if (!match) throw refused();
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const zone = match[8]!.toUpperCase();
  const offsetMinutes = zone === 'Z' ? 0 : (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const date = new Date(0);
  // Fields set one by one: the constructor reads years 0..99 as 1900..1999.
  date.setUTCFullYear(year, month - 1, day);
  const realDay = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  if (!realDay || hour > 23 || minute > 59 || second > 60 || Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59) throw refused();
  if (second === 60) {
    throw new InvalidAuditQueryError(field, `${field} ${describe(value)} is in a leap second (:60), which no stored time can be (Postgres has none): give :59.999999 or the next minute's :00`);
  }
  date.setUTCHours(hour, minute, second);
  const ms = date.getTime() - offsetMinutes * 60_000;
  const digits = match[7] ?? '';
  let us = BigInt(ms) * 1000n + BigInt(digits.slice(0, 6).padEnd(6, '0'));
  if (field === 'since' && /[1-9]/.test(digits.slice(6))) us += 1n;
  const unitUs = digits.length > 3 ? 1n : 1000n;
  if (!storableTime(Number(us / 1000n)) || !storableTime(Number((us + unitUs) / 1000n) - 1)) throw refused();
  return { us, unitUs };
}

function describe(value: unknown): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : value.toISOString();
  return typeof value === 'string' ? `"${value.length > 64 ? `${value.slice(0, 64)}…` : value}"` : typeof value;
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
