/**
 * Worker side of the audit trail: appends execution records to the audit stream.
 * Records of jobs finishing in the same event-loop turn share one stream entry and one
 * round trip (group commit), while each caller still waits for that XADD's reply.
 * Oversized payloads are replaced by a marker here, where their JSON is made anyway.
 * Light on purpose: worker processes import this without drizzle or a database driver.
 */
import type { Redis } from 'ioredis';
import type { ExecutionRecord } from '@sluice/queue';
import { encodeEntry, encodeRecord } from './stream-entry.ts';
import { DEFAULT_LIMITS, type TruncationLimits } from './to-row.ts';

export interface AuditAppenderOptions {
  /** Any non-blocking connection; the worker's own is fine. */
  redis: Redis;
  /** `sluiceKeys(prefix).auditStream`. */
  streamKey: string;
  /** Most records in one stream entry. Default 100. */
  maxBatch?: number;
  /** Payload size limits (`jsonBytes`, `previewChars`). Default DEFAULT_LIMITS. */
  limits?: Partial<TruncationLimits>;
}

export type AuditAppender = (record: ExecutionRecord) => Promise<void>;

interface Waiting {
  record: ExecutionRecord;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function createAuditAppender({ redis, streamKey, maxBatch = 100, ...options }: AuditAppenderOptions): AuditAppender {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const waiting: Waiting[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    while (waiting.length > 0) {
      const batch: Waiting[] = [];
      const records: string[] = [];
      for (const item of waiting.splice(0, maxBatch)) {
        try {
          records.push(encodeRecord(item.record, limits));
          batch.push(item);
        } catch (error) {
          // Not serialisable (a BigInt, a cycle): fail this job's record alone.
          item.reject(error);
        }
      }
      if (batch.length === 0) continue;
      redis.xadd(streamKey, '*', ...encodeEntry(records)).then(
        () => batch.forEach((item) => item.resolve()),
        (error) => batch.forEach((item) => item.reject(error)),
      );
    }
  };

  return (record) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ record, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
