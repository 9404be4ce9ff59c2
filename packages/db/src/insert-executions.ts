/** The audit table's writes: the writer's batch (COPY, else INSERT), and a typed insert for tools and tests. */
import { sql } from 'drizzle-orm';
import { isRecordError } from './classify-error.ts';
import { copyAuditRows, toCopyText } from './copy-rows.ts';
import type { AuditDb, StoreDriver } from './store.ts';
import { MAX_DURATION_MS, workerJobs, type NewWorkerJob } from './schema.ts';
import type { AuditRow } from './to-row.ts';

/**
 * The writer's batch: one COPY when every row is new and valid (the common case), else the
 * INSERT below, which skips executions already recorded and fails only on a row Postgres
 * refuses. Returns the execution ids this call inserted.
 */
export async function writeAuditRows(db: AuditDb, driver: StoreDriver, rows: AuditRow[]): Promise<string[]> {
  if (rows.length === 0) return [];
  let copyText: string | null = null;
  try {
    copyText = toCopyText(rows);
  } catch {
    // A time outside Date's range: the INSERT path lets Postgres judge the row.
  }
  if (copyText !== null) {
    try {
      await copyAuditRows(driver, copyText);
      // COPY is all or nothing and execution_id is unique: every row is new.
      return rows.map((row) => row.executionId);
    } catch (error) {
      // A re-delivered execution or a row Postgres refuses fails the whole COPY; outages are the caller's.
      if (!isRecordError(error)) throw error;
    }
  }
  return insertAuditRows(db, rows);
}

/**
 * The fallback when a COPY fails: the whole batch travels as ONE json parameter, the records
 * as the workers wrote them (camelCase, epoch-ms times, payloads as JSON values), and
 * Postgres unpacks it (json_to_recordset). Executions already recorded are skipped; returns
 * the execution ids this call inserted.
 */
export async function insertAuditRows(db: AuditDb, rows: AuditRow[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const result = await db.execute<{ execution_id: string }>(sql`
    insert into worker_jobs (execution_id, job_id, type, user_id, data, result, error, status, attempt, will_retry, worker, queued_at, started_at, completed_at, duration_ms)
    select "executionId", "jobId", type, "userId", data, result, error, status, attempt, coalesce("willRetry", false), worker,
      to_timestamp("queuedAt" / 1000), to_timestamp("startedAt" / 1000), to_timestamp("completedAt" / 1000), least(${MAX_DURATION_MS}, greatest(0, round("durationMs")))::integer
    from json_to_recordset(${JSON.stringify(rows)}::json) as r(
      "executionId" text, "jobId" text, type text, "userId" text, data jsonb, result jsonb, error jsonb, status text,
      attempt integer, "willRetry" boolean, worker text, "queuedAt" float8, "startedAt" float8, "completedAt" float8, "durationMs" float8)
    on conflict (execution_id) do nothing
    returning execution_id`);
  return rowsOf<{ execution_id: string }>(result).map((row) => row.execution_id);
}

/** The rows of a drizzle `execute`: postgres.js returns them as an array, PGlite wraps them in `{ rows }`. */
export function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;
}

/** Typed rows (seeding, imports, tests); same skip-if-recorded rule. Returns the inserted ids. */
export async function insertExecutions(db: AuditDb, rows: NewWorkerJob[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const inserted = await db
    .insert(workerJobs)
    .values(rows)
    .onConflictDoNothing({ target: workerJobs.executionId })
    .returning({ executionId: workerJobs.executionId });
  return inserted.map((row) => row.executionId);
}
