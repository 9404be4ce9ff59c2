/**
 * Runs the retention requests `cleanupAuditLog` sends the audit writer, one at a time and
 * beside its batch pipeline: deleting millions of rows must not hold up the rows behind them.
 *
 * Reply protocol on the request's list (RPUSH, read in order with BLPOP): `{ started: true,
 * heartbeatMs }` as soon as the request is taken on (queued behind another run counts),
 * repeated every `heartbeatMs` until the answer (`heartbeatMs` tells the job it may count on
 * the repeats; a writer from before them sends `{ started: true }` once), then `{ deleted }`, or `{ error }` saying why it did not
 * finish. The repeats tell the waiting job the writer is alive: the request has left the
 * stream, so a writer that dies mid-run (SIGKILL, OOM) answers nothing, and the job gives up
 * after a silence instead of its whole timeout. An outage is waited out; any other failure
 * (no DELETE right, a statement timeout) is answered at once, not retried forever.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '@sluice/observability';
import { errorMessage, isUnreachable } from './classify-error.ts';
import { AuditStoreUnavailableError } from './errors.ts';
import type { AuditStore } from './store.ts';
import type { PruneRequest } from './stream-entry.ts';

export interface RetentionRunnerOptions {
  store: Pick<AuditStore, 'deleteExecutionsBefore'>;
  /** For the replies: a non-blocking connection (the writer's own blocks on its reads). */
  redis: Redis;
  log: Logger;
  /** Backoff while the store is unreachable: doubles from `initialMs` up to `maxMs`. Default 200..5000 ms. */
  retry?: { initialMs?: number; maxMs?: number };
  /** How often a request not yet answered is told again that it was taken on. Default 10000 ms. */
  heartbeatMs?: number;
}

/** A reply list outlives the job's wait for it: the job gives up after its own 30-minute timeout. */
const REPLY_TTL_S = 3600;

export function createRetentionRunner({ store, redis, log, retry = {}, heartbeatMs = 10_000 }: RetentionRunnerOptions) {
  const { initialMs = 200, maxMs = 5000 } = retry;
  const stopping = new AbortController();
  let queue: Promise<void> = Promise.resolve();
  /** Reply lists of the requests taken on and not yet answered. */
  const unanswered = new Set<string>();
  let heartbeat: ReturnType<typeof setInterval> | null = null;

  async function reply(replyTo: string, message: object): Promise<void> {
    await redis.multi().rpush(replyTo, JSON.stringify(message)).expire(replyTo, REPLY_TTL_S).exec();
  }

  function forget(replyTo: string): void {
    unanswered.delete(replyTo);
    if (unanswered.size === 0 && heartbeat) {
      clearInterval(heartbeat);
      heartbeat = null;
    }
  }

  /** The final answer: no more heartbeats for this request. */
  function answer(replyTo: string, message: object): Promise<void> {
    forget(replyTo);
    return reply(replyTo, message);
  }

  function beat(): void {
    // Lost beats (Redis down) only make the job wait longer for the next one.
    for (const replyTo of unanswered) void reply(replyTo, { started: true, heartbeatMs }).catch(() => {});
  }

  /** Sleeps `ms`, or less when the writer stops. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stopping.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });

  async function run(request: PruneRequest): Promise<void> {
    const cutoff = request.cutoff.toISOString();
    let deleted = 0;
    for (let failures = 0; !stopping.signal.aborted; ) {
      try {
        // Counted across outages: a retry continues where the last attempt stopped.
        deleted += await store.deleteExecutionsBefore(request.cutoff, { batchSize: request.batchSize, signal: stopping.signal });
        if (stopping.signal.aborted) break;
        log.info({ deleted, cutoff }, 'audit rows past retention deleted');
        return answer(request.replyTo, { deleted });
      } catch (error) {
        if (!(error instanceof AuditStoreUnavailableError || isUnreachable(error))) {
          log.error({ err: errorMessage(error), deleted, cutoff }, 'audit retention run failed');
          return answer(request.replyTo, { error: `deleting audit rows past retention failed after ${deleted}: ${errorMessage(error)}` });
        }
        await pause(Math.min(maxMs, initialMs * 2 ** failures++));
      }
    }
    log.warn({ deleted, cutoff }, 'audit retention run stopped with the writer');
    await answer(request.replyTo, { error: `the audit writer stopped after deleting ${deleted} rows past retention; the next run deletes the rest` });
  }

  return {
    /** Queues a request and tells its job it was taken on. Never rejects: failures are answered to the job. */
    start(request: PruneRequest): void {
      // Sent first, so it precedes any answer on the connection.
      void reply(request.replyTo, { started: true, heartbeatMs }).catch(() => {});
      unanswered.add(request.replyTo);
      heartbeat ??= setInterval(beat, heartbeatMs);
      queue = queue
        .then(async () => {
          if (stopping.signal.aborted) return answer(request.replyTo, { error: 'the audit writer is stopping; retry the retention run' });
          return run(request);
        })
        .catch((error) => {
          forget(request.replyTo);
          log.error({ err: errorMessage(error) }, 'audit retention reply not sent');
        });
    },
    /** Stops the run in progress after its current DELETE; queued requests are answered that the writer stops. */
    stop(): void {
      stopping.abort();
    },
    /** Resolves when every request started so far has been answered. */
    idle: (): Promise<void> => queue,
  };
}

export type RetentionRunner = ReturnType<typeof createRetentionRunner>;
