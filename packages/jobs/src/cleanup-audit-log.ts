/** `cleanupAuditLog`: daily retention for the audit table, deleting old rows a bounded batch at a time. */
import { Type } from '@sinclair/typebox';
import { defineJob } from './define-job.ts';
import { PermanentError } from './errors.ts';

const DAY_MS = 86_400_000;

export const CleanupAuditLogData = Type.Object(
  {
    /** Overrides AUDIT_LOG_RETENTION_DAYS for this run. */
    retentionDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 36_500 })),
    /** Rows per DELETE; small batches keep each lock short. Default 5000. */
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

export const cleanupAuditLog = defineJob({
  description: 'Deletes audit rows older than the retention (AUDIT_LOG_RETENTION_DAYS) in bounded batches.',
  schema: CleanupAuditLogData,
  priority: 'low',
  timeoutMs: 30 * 60_000,
  // Read at run time rather than baked into the schedule, so a changed retention applies tomorrow.
  // Not with auditing off (AUDIT_ENABLED=false): there is no table to clean, and each run would fail.
  schedule: { pattern: '0 3 * * *', data: {}, enabled: (config) => config.audit.enabled && config.audit.retentionDays > 0 },
  async run({ data, ctx, log }) {
    const retentionDays = data.retentionDays ?? ctx.config.audit.retentionDays;
    if (retentionDays <= 0) return { deleted: 0, retentionDays, skipped: 'retention is off (AUDIT_LOG_RETENTION_DAYS=0)' };
    const audit = ctx.services.audit;
    if (!audit) throw new PermanentError('this worker has no audit store to clean (AUDIT_ENABLED=false?)');
    const cutoff = new Date(Date.now() - retentionDays * DAY_MS);
    const deleted = await audit.deleteExecutionsBefore(cutoff, { batchSize: data.batchSize ?? 5000, signal: ctx.signal });
    log.info({ deleted, retentionDays }, 'audit log cleaned');
    return { deleted, retentionDays, cutoff: cutoff.toISOString() };
  },
});
