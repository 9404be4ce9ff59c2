/**
 * Worker side of the audit trail: appends execution records to the audit stream.
 *
 * Records of jobs finishing in the same event-loop turn share one stream entry (group
 * commit). The XADD goes on the worker's job connection, and a job waits only until its
 * XADD is written there, not for the reply: Redis runs one connection's commands in
 * order, so the record is in the stream before the job's completion that BullMQ sends
 * next, without a round trip on every job's path. An XADD that Redis refuses is kept in
 * memory and retried until it lands.
 *
 * Oversized payloads are replaced by a marker here, where their JSON is made anyway.
 * Light on purpose: worker processes import this without drizzle or a database driver.
 */
import type { ExecutionRecord, RedisSend } from '@sluice/queue';
import type { Logger } from '@sluice/observability';
import { encodeEntry, encodeRecord } from './stream-entry.ts';
import { DEFAULT_LIMITS, type TruncationLimits } from './to-row.ts';

export interface AuditAppenderOptions {
  /** The worker's job connection (`WorkerConnection.send`), so records precede completions. */
  send: RedisSend;
  /** `sluiceKeys(prefix).auditStream`. */
  streamKey: string;
  /** Where failed appends and their recovery are reported. Default: not logged. */
  log?: Logger;
  /** Most records in one stream entry. Default 100. */
  maxBatch?: number;
  /** Payload size limits (`jsonBytes`, `previewChars`). Default DEFAULT_LIMITS. */
  limits?: Partial<TruncationLimits>;
  /** Backoff between retries of refused appends: doubles from `initialMs` up to `maxMs`. Default 200..5000 ms. */
  retry?: { initialMs?: number; maxMs?: number };
}

export interface AuditAppender {
  /**
   * Resolves once the record's XADD is on the connection, ahead of anything sent after it.
   * Rejects only when the record cannot be serialised (a BigInt, a cycle).
   */
  append(record: ExecutionRecord): Promise<void>;
  /**
   * Records not yet known to be in the stream: sent and awaiting Redis's reply (while Redis
   * is unreachable a client queues them until it reconnects), or refused and waiting for a retry.
   */
  pending(): number;
  /** Waits for replies and retries refused records until none is pending; false if `timeoutMs` passed first. */
  drain(timeoutMs: number): Promise<boolean>;
}

interface Waiting {
  record: ExecutionRecord;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** The most records an appender puts in one stream entry, unless told otherwise (`maxBatch`). */
export const MAX_RECORDS_PER_ENTRY = 100;

export function createAuditAppender({ send, streamKey, log, maxBatch = MAX_RECORDS_PER_ENTRY, ...options }: AuditAppenderOptions): AuditAppender {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const retryInitialMs = options.retry?.initialMs ?? 200;
  const retryMaxMs = options.retry?.maxMs ?? 5000;
  const waiting: Waiting[] = [];
  /** Entries (each one XADD's record JSONs) that Redis refused. */
  const refused: string[][] = [];
  /** Records sent whose reply has not come back. */
  let unanswered = 0;
  let scheduled = false;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let failures = 0;

  const pending = () => unanswered + refused.reduce((sum, records) => sum + records.length, 0);
  const xadd = (records: string[]) => send('XADD', [streamKey, '*', ...encodeEntry(records)]);

  const keepForRetry = (records: string[], error: unknown) => {
    if (refused.length === 0 && failures === 0) {
      log?.warn({ err: (error as Error)?.message ?? String(error), records: records.length }, 'audit append refused; records kept in memory and retried');
    }
    refused.push(records);
    scheduleRetry();
  };

  const flush = () => {
    scheduled = false;
    while (waiting.length > 0) {
      const batch = waiting.splice(0, maxBatch);
      const records: string[] = [];
      const encoded: Waiting[] = [];
      for (const item of batch) {
        try {
          records.push(encodeRecord(item.record, limits));
          encoded.push(item);
        } catch (error) {
          item.reject(error);
        }
      }
      if (records.length === 0) continue;
      // Written now; the reply is only watched for a refusal. A client that throws instead
      // of rejecting must not leave these jobs waiting for a resolve that never comes.
      let sent: Promise<unknown>;
      try {
        sent = xadd(records);
      } catch (error) {
        sent = Promise.reject(error);
      }
      unanswered += records.length;
      sent.then(
        () => void (unanswered -= records.length),
        (error) => {
          unanswered -= records.length;
          keepForRetry(records, error);
        },
      );
      for (const item of encoded) item.resolve();
    }
  };

  /**
   * One retry pass at a time. A pass started by the timer and one started by drain() would
   * both send the first kept entry and both shift the queue: the entry twice in the stream,
   * and the one after it dropped unsent.
   */
  let retrying: Promise<void> | null = null;
  function retryRefused(): Promise<void> {
    retryTimer = null;
    retrying ??= retryPass().finally(() => (retrying = null));
    return retrying;
  }

  async function retryPass(): Promise<void> {
    while (refused.length > 0) {
      const records = refused[0]!;
      try {
        await xadd(records);
      } catch {
        failures++;
        scheduleRetry();
        return;
      }
      refused.shift();
      if (refused.length === 0) {
        log?.info({ afterFailures: failures }, 'audit appends recovered; every kept record is in the stream');
        failures = 0;
      }
    }
  }

  function scheduleRetry(): void {
    if (retryTimer) return;
    const ms = Math.min(retryMaxMs, retryInitialMs * 2 ** failures);
    retryTimer = setTimeout(() => void retryRefused(), ms);
  }

  return {
    append: (record) =>
      new Promise<void>((resolve, reject) => {
        waiting.push({ record, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      }),
    pending,
    async drain(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (pending() > 0 && Date.now() < deadline) {
        if (refused.length > 0) {
          if (retryTimer) {
            clearTimeout(retryTimer);
            retryTimer = null;
          }
          // A Redis that takes the command and never answers (paused, or a client that has
          // stopped reconnecting) would hold this pass past the deadline: race it.
          await Promise.race([retryRefused(), Bun.sleep(Math.max(0, deadline - Date.now()))]);
        }
        if (pending() > 0) await Bun.sleep(Math.min(refused.length > 0 ? 200 : 10, Math.max(0, deadline - Date.now())));
      }
      return pending() === 0;
    },
  };
}
