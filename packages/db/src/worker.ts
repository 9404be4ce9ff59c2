/** What worker processes import (`@sluice/db/worker`): stream-side pieces only, no database driver. */
export { createAuditAppender, type AuditAppender, type AuditAppenderOptions } from './audit-appender.ts';
export { createAuditMaintenanceClient, type AuditMaintenanceClient } from './audit-maintenance-client.ts';
