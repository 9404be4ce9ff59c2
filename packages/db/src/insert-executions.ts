/** The audit writer's one write: a batch insert that skips executions already recorded. */
import type { AuditDb } from './store.ts';
import { workerJobs, type NewWorkerJob } from './schema.ts';

/** Returns the execution ids this call inserted (not those another writer got to first). */
export async function insertExecutions(db: AuditDb, rows: NewWorkerJob[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const inserted = await db
    .insert(workerJobs)
    .values(rows)
    .onConflictDoNothing({ target: workerJobs.executionId })
    .returning({ executionId: workerJobs.executionId });
  return inserted.map((row) => row.executionId);
}
