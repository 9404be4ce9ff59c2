/**
 * Worker side of the audit trail: appends execution records to the audit stream.
 * Records of jobs finishing in the same event-loop turn share one pipelined round trip
 * (group commit), while each caller still waits for its own record's XADD reply.
 * Light on purpose: worker processes import this without drizzle or a database driver.
 */
import type { Redis } from 'ioredis';
import type { ExecutionRecord } from '@sluice/queue';
import { encodeRecord } from './stream-entry.ts';

export interface AuditAppenderOptions {
  /** Any non-blocking connection; the worker's own is fine. */
  redis: Redis;
  /** `sluiceKeys(prefix).auditStream`. */
  streamKey: string;
  /** Most XADDs in one pipeline. Default 1000. */
  maxBatch?: number;
}

export type AuditAppender = (record: ExecutionRecord) => Promise<void>;

interface Waiting {
  fields: string[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export function createAuditAppender({ redis, streamKey, maxBatch = 1000 }: AuditAppenderOptions): AuditAppender {
  const waiting: Waiting[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    while (waiting.length > 0) {
      const batch = waiting.splice(0, maxBatch);
      const pipeline = redis.pipeline();
      for (const item of batch) pipeline.xadd(streamKey, '*', ...item.fields);
      pipeline.exec().then(
        (replies) => batch.forEach((item, i) => {
          const error = replies?.[i]?.[0];
          if (error) item.reject(error);
          else item.resolve();
        }),
        (error) => batch.forEach((item) => item.reject(error)),
      );
    }
  };

  return (record) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ fields: encodeRecord(record), resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
