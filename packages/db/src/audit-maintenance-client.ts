/**
 * Worker side of audit housekeeping. The audit writer is the one process that owns the
 * store (embedded PGlite allows no other), so a job asks it over the audit stream and
 * waits for the reply. Light on purpose, like the appender: no database driver here.
 */
import type { Redis } from 'ioredis';
import { AuditWriterUnavailableError } from './errors.ts';
import { encodePrune } from './stream-entry.ts';

export interface AuditMaintenanceClientOptions {
  /** Used for the request; the wait uses a short-lived duplicate, since it blocks. */
  redis: Redis;
  keys: { auditStream: string; auditReply: (requestId: string) => string };
}

export interface PruneRequestOptions {
  /** Rows per DELETE statement. */
  batchSize: number;
  /** Give up waiting for the writer after this long. Default 300000 ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface AuditMaintenanceClient {
  deleteExecutionsBefore(cutoff: Date, options: PruneRequestOptions): Promise<number>;
}

export function createAuditMaintenanceClient({ redis, keys }: AuditMaintenanceClientOptions): AuditMaintenanceClient {
  return {
    async deleteExecutionsBefore(cutoff, { batchSize, timeoutMs = 300_000, signal }) {
      const replyTo = keys.auditReply(crypto.randomUUID());
      const listener = redis.duplicate();
      const abort = () => listener.disconnect();
      signal?.addEventListener('abort', abort, { once: true });
      try {
        await redis.xadd(keys.auditStream, '*', ...encodePrune({ cutoff, batchSize, replyTo }));
        const reply = await listener.blpop(replyTo, Math.max(1, Math.ceil(timeoutMs / 1000)));
        if (!reply) throw new AuditWriterUnavailableError('delete executions past retention', timeoutMs);
        return Number(JSON.parse(reply[1]).deleted);
      } finally {
        signal?.removeEventListener('abort', abort);
        listener.disconnect();
      }
    },
  };
}
