/**
 * @sluice/db: the audit trail. Public API (stable; the server, CLI and worker use it):
 *
 *   openAuditStore(config)             Postgres via postgres.js when config.database.url is set,
 *                                      else embedded PGlite under config.database.dataDir/audit.
 *   migrate(store)                     applies packages/db/migrations (idempotent, locked).
 *   startAuditTrail({ config, log })   open + migrate + one running writer; `close()` flushes.
 *   createAuditWriter({ store, redis, keys, log, onInserted, ... })
 *                                      stream -> worker_jobs; backlog(), flush(), stop(), stats().
 *   store.getJobHistory({ type, status, jobId, since, until, limit, cursor }) -> { rows, nextCursor }
 *   store.getJobMetrics({ type?, windowMs })  -> count, completed, failed, successRate, p50/p95/max, lastRunAt
 *   store.getJobMetricsByType({ windowMs })   -> the same, one entry per type
 *   store.getHealth({ windowMs? })            -> per type: critical < 50% success, warning < 80%, else ok
 *   store.ping()                              -> readiness { status, latencyMs }: worker_jobs answers
 *
 * On Postgres the reads run on a pool of their own whose statement_timeout is
 * config.database.readTimeoutMs (AUDIT_READ_TIMEOUT); a read past it rejects with
 * AuditQueryTimeoutError. Inserts, retention and ping keep the writer's pool.
 *
 * Worker processes import `@sluice/db/worker` instead (appender and maintenance client,
 * no database driver).
 */
export { startAuditTrail, type AuditTrail, type StartAuditTrailOptions } from './audit-trail.ts';
export { createAuditWriter, type AuditWriter, type AuditWriterOptions, type AuditWriterStats } from './audit-writer.ts';
export { createAuditAppender, type AuditAppender } from './audit-appender.ts';
export { createAuditMaintenanceClient, type AuditMaintenanceClient } from './audit-maintenance-client.ts';
export { AuditError, AuditQueryFailedError, AuditQueryTimeoutError, AuditRedisTooOldError, AuditRetentionFailedError, AuditStoreBusyError, AuditTableMissingError, AuditWriterSilentError, AuditWriterUnavailableError, InvalidAuditQueryError } from './errors.ts';
export { redisVersionOf, supportsAuditCommands } from './redis-version.ts';
export { checkHistoryQuery, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, type HistoryInstant, type HistoryPage, type HistoryQuery } from './history.ts';
export { classifyHealth, DEFAULT_HEALTH_WINDOW_MS, type HealthQuery, type HealthStatus, type JobMetrics, type MetricsQuery, type TypeHealth } from './metrics.ts';
export { migrate, MIGRATIONS_DIR } from './migrate.ts';
export type { PruneOptions } from './prune.ts';
export { EXECUTION_STATUSES, workerJobs, type ExecutionStatus, type NewWorkerJob, type StoredError, type WorkerJob } from './schema.ts';
export { embeddedStoreDir, openAuditStore, READER_WAIT_FOR_READER_MS, type AuditDb, type AuditStore, type OpenStoreOptions, type StoreHealth } from './store.ts';
export { DEFAULT_LIMITS, nestsDeeperThan, type TruncatedJson, type TruncationLimits } from './to-row.ts';
export { countRecords, type RecordMeta } from './stream-entry.ts';
export { sqlState } from './classify-error.ts';
export { copyAuditRows, toCopyText } from './copy-rows.ts';
export { writeAuditRows } from './insert-executions.ts';
/** drizzle's `sql` tag, for ad-hoc queries against `store.readDb` (or `store.db`) without a second drizzle copy. */
export { sql } from 'drizzle-orm';
