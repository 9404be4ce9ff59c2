/** Retention: deletes old audit rows a bounded batch at a time, so no statement holds a long lock. */
import { inArray, lt } from 'drizzle-orm';
import type { AuditDb } from './store.ts';
import { workerJobs } from './schema.ts';

export interface PruneOptions {
  /** Rows per DELETE statement. Default 5000. */
  batchSize?: number;
  /** Stops between batches when aborted (the job timed out or the worker is stopping). */
  signal?: AbortSignal;
}

/** Deletes rows whose `created_at` is before `cutoff`; returns how many were deleted. */
export async function deleteExecutionsBefore(db: AuditDb, cutoff: Date, { batchSize = 5000, signal }: PruneOptions = {}): Promise<number> {
  let total = 0;
  while (!signal?.aborted) {
    const victims = db.select({ id: workerJobs.id }).from(workerJobs).where(lt(workerJobs.createdAt, cutoff)).orderBy(workerJobs.id).limit(batchSize);
    const deleted = await db.delete(workerJobs).where(inArray(workerJobs.id, victims)).returning({ id: workerJobs.id });
    total += deleted.length;
    if (deleted.length < batchSize) break;
  }
  return total;
}
