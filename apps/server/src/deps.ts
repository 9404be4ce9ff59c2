/** What the server's feature modules are given. Everything arrives as an argument; nothing is global. */
import type { Config } from '@sluice/config';
import { AuditError, AuditQueryTimeoutError, InvalidAuditQueryError, type AuditStore } from '@sluice/db';
import type { JobRegistry } from '@sluice/jobs';
import type { Logger, Metrics } from '@sluice/observability';
import type { QueueManager } from '@sluice/queue';
import type { Supervisor } from '@sluice/supervisor';
import { DependencyUnavailableError } from './http-errors.ts';

export type Queue = QueueManager<JobRegistry>;

/** The read side of the audit store the API uses (the writer lives in main.ts). */
export type AuditReader = Pick<AuditStore, 'ping' | 'getJobHistory' | 'getJobMetricsByType' | 'getHealth'>;

export interface ServerDeps {
  config: Config;
  queue: Queue;
  /** The supervisor running in this process; /ready and health report its worker processes. */
  supervisor?: Pick<Supervisor, 'snapshot'>;
  /** Absent (auditing off): /history answers 503 AUDIT_UNAVAILABLE saying so; other routes leave their audit parts null. */
  audit?: AuditReader;
  /** Why records are not reaching the audit table right now, or null (`AuditTrail.problem`); /ready reports it. */
  auditProblem?: () => string | null;
  metrics: Metrics;
  log: Logger;
}

/**
 * Runs an audit query; a bad query argument stays a 400 and a read Postgres cancelled for
 * running too long a 504 (both the caller's to change), anything else (an outage, a missing table) becomes a 503.
 */
export async function readAudit<T>(audit: AuditReader | undefined, run: (audit: AuditReader) => Promise<T>): Promise<T> {
  if (!audit) throw new DependencyUnavailableError('AUDIT_UNAVAILABLE', 'auditing is off on this server (AUDIT_ENABLED=false): no execution history is recorded');
  try {
    return await run(audit);
  } catch (error) {
    if (error instanceof InvalidAuditQueryError || error instanceof AuditQueryTimeoutError) throw error;
    // An error of the db package's own (the table is missing, say) explains itself; anything else is an outage.
    const message = error instanceof AuditError ? error.message : 'the audit database did not answer; try again shortly';
    throw new DependencyUnavailableError('AUDIT_UNAVAILABLE', message, error);
  }
}
