/** Retention: deletes old audit rows a bounded batch at a time, so no statement holds a long lock. */
import { and, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { AuditDb } from './store.ts';
import { workerJobs } from './schema.ts';

export interface PruneOptions {
  /** Rows per DELETE statement. Default 5000. */
  batchSize?: number;
  /** Stops between batches when aborted (the job timed out or the worker is stopping). */
  signal?: AbortSignal;
}

/**
 * Deletes rows whose `created_at` is before `cutoff`; returns how many were deleted.
 *
 * Each batch takes the oldest victims through idx_worker_jobs_created, starting at the newest
 * `created_at` the previous batch deleted, so it reads only rows it deletes. Picking victims in
 * id order walked the primary key and read every row on the way: the last batch of every run
 * read the whole retained table, and expired rows with high ids (an import) made every batch do
 * so. Starting at the previous batch's end also skips the index entries of rows already
 * deleted, which a concurrent long read keeps Postgres from pruning (each batch would revisit
 * them all). A row written during the run with a `created_at` older than that is left for the next run.
 */
export async function deleteExecutionsBefore(db: AuditDb, cutoff: Date, { batchSize = 5000, signal }: PruneOptions = {}): Promise<number> {
  let total = 0;
  /** Milliseconds, rounded down: rows sharing the last deleted instant are still ahead of it. */
  let fromMs: number | null = null;
  while (!signal?.aborted) {
    const range: (SQL | undefined)[] = [lt(workerJobs.createdAt, cutoff), ...(fromMs === null ? [] : [gte(workerJobs.createdAt, new Date(fromMs))])];
    const victims = db.select({ id: workerJobs.id }).from(workerJobs).where(and(...range)).orderBy(workerJobs.createdAt).limit(batchSize);
    const deleted = db.$with('deleted').as(db.delete(workerJobs).where(inArray(workerJobs.id, victims)).returning({ createdAt: workerJobs.createdAt }));
    const [batch] = await db
      .with(deleted)
      .select({
        count: sql<number>`count(*)::int`,
        // Whole ms (exact in a float8), so both drivers return a plain number.
        lastMs: sql<number | null>`(extract(epoch from date_trunc('milliseconds', max(${deleted.createdAt}))) * 1000)::float8`,
      })
      .from(deleted);
    total += batch?.count ?? 0;
    if (!batch || batch.count < batchSize) break;
    fromMs = batch.lastMs;
  }
  return total;
}
