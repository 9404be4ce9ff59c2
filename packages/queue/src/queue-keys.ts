/** The only place that spells the queue name and Sluice's own Redis keys. */

/** Every job, of every type, travels on this one BullMQ queue. */
export const QUEUE_NAME = 'jobs';

export function sluiceKeys(prefix: string) {
  const base = `${prefix}:${QUEUE_NAME}:sluice`;
  return {
    /** Redis stream of execution records, consumed by the audit writer. */
    auditStream: `${base}:audit`,
    /** Records the audit writer could not insert for a reason other than an outage. */
    auditParked: `${base}:audit:parked`,
    /** Held while one submit adds a custom job id, so concurrent submits of that id cannot both succeed. */
    jobIdClaim: (jobId: string) => `${base}:claim:${jobId}`,
    /** Short-lived list where the audit writer answers one maintenance request (e.g. a retention prune). */
    auditReply: (requestId: string) => `${base}:audit:reply:${requestId}`,
  } as const;
}
