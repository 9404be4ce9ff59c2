/**
 * Worker side of audit housekeeping. The audit writer is the one process that owns the
 * store (embedded PGlite allows no other), so a job asks it over the audit stream and
 * waits for the reply. Light on purpose, like the appender: no database driver here.
 */
import type { Redis } from 'ioredis';
import { AuditRetentionFailedError, AuditWriterSilentError, AuditWriterUnavailableError } from './errors.ts';
import { encodePrune } from './stream-entry.ts';

export interface AuditMaintenanceClientOptions {
  /** Used for the request; the wait uses a short-lived duplicate, since it blocks. */
  redis: Redis;
  keys: { auditStream: string; auditReply: (requestId: string) => string };
}

export interface PruneRequestOptions {
  /** Rows per DELETE statement. */
  batchSize: number;
  /** Give up when no writer has taken the request on (or answered) after this long. Default 300000 ms. */
  timeoutMs?: number;
  /**
   * Ends the wait (the job timed out). Once a writer has taken the request on, the wait for
   * its result lasts until this aborts (deleting millions of rows can take minutes), or
   * until the writer has been silent for `silenceMs`.
   */
  signal?: AbortSignal;
  /**
   * Give up when the writer running the request has said nothing for this long: it repeats
   * `{ started }` every 10 s while it works, so silence means it died mid-run. Default 45000 ms.
   * Applies only to a writer that says it repeats (`heartbeatMs`); an older one is waited for.
   */
  silenceMs?: number;
}

/** How long one wait for the result blocks when the writer sends no repeats; the loop ends on `signal`. */
const RESULT_WAIT_S = 60;

export interface AuditMaintenanceClient {
  deleteExecutionsBefore(cutoff: Date, options: PruneRequestOptions): Promise<number>;
}

export function createAuditMaintenanceClient({ redis, keys }: AuditMaintenanceClientOptions): AuditMaintenanceClient {
  return {
    async deleteExecutionsBefore(cutoff, { batchSize, timeoutMs = 300_000, signal, silenceMs = 45_000 }) {
      const replyTo = keys.auditReply(crypto.randomUUID());
      const listener = redis.duplicate();
      const abort = () => listener.disconnect();
      signal?.addEventListener('abort', abort, { once: true });
      try {
        await redis.xadd(keys.auditStream, '*', ...encodePrune({ cutoff, batchSize, replyTo }));
        // First `{ started }` (or the result at once), then the result.
        let started = false;
        /** Whether the writer repeats `{ started }` while it works: a writer from before the repeats does not, and is waited for. */
        let beats = false;
        while (!signal?.aborted) {
          // BLPOP takes seconds, with fractions.
          const waitS = !started ? Math.max(1, Math.ceil(timeoutMs / 1000)) : beats ? Math.max(0.01, silenceMs / 1000) : RESULT_WAIT_S;
          const reply = await listener.blpop(replyTo, waitS);
          if (!reply) {
            if (started && beats) throw new AuditWriterSilentError(silenceMs);
            if (started) continue;
            throw new AuditWriterUnavailableError('delete executions past retention', timeoutMs);
          }
          const message = JSON.parse(reply[1]) as { started?: boolean; heartbeatMs?: number; deleted?: number; error?: string };
          if (message.error) throw new AuditRetentionFailedError(message.error);
          if (message.started) {
            started = true;
            beats ||= typeof message.heartbeatMs === 'number';
          } else return Number(message.deleted);
        }
        throw signal.reason ?? new Error('aborted');
      } catch (error) {
        // The abort ended the wait by closing its connection: say why, not "Connection is closed".
        throw signal?.aborted ? (signal.reason ?? error) : error;
      } finally {
        signal?.removeEventListener('abort', abort);
        listener.disconnect();
      }
    },
  };
}
