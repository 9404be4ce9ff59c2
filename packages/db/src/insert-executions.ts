/** The audit table's two writes: the writer's batch insert, and a typed insert for tools and tests. */
import { sql } from 'drizzle-orm';
import type { AuditDb } from './store.ts';
import { workerJobs, type NewWorkerJob } from './schema.ts';
import type { AuditRow } from './to-row.ts';

/**
 * The writer's hot path: the whole batch travels as ONE json parameter and Postgres
 * unpacks it (json_to_recordset), instead of 15 bind parameters per row built by the
 * query builder. Payloads arrive as JSON text and are cast to jsonb in SQL. Executions
 * already recorded are skipped; returns the execution ids this call inserted.
 */
export async function insertAuditRows(db: AuditDb, rows: AuditRow[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const result = await db.execute<{ execution_id: string }>(sql`
    insert into worker_jobs (execution_id, job_id, type, user_id, data, result, error, status, attempt, will_retry, worker, queued_at, started_at, completed_at, duration_ms)
    select execution_id, job_id, type, user_id, data::jsonb, result::jsonb, error, status, attempt, will_retry, worker, queued_at, started_at, completed_at, duration_ms
    from json_to_recordset(${JSON.stringify(rows)}::json) as r(
      execution_id text, job_id text, type text, user_id text, data text, result text, error jsonb, status text,
      attempt integer, will_retry boolean, worker text, queued_at timestamptz, started_at timestamptz, completed_at timestamptz, duration_ms integer)
    on conflict (execution_id) do nothing
    returning execution_id`);
  // postgres.js returns the rows as an array; PGlite wraps them in `{ rows }`.
  const returned = Array.isArray(result) ? result : (result as unknown as { rows: { execution_id: string }[] }).rows;
  return returned.map((row) => row.execution_id);
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
