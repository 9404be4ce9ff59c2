/** Wraps one BullMQ Worker on the `jobs` queue with Sluice's processor and a bounded graceful stop. */
import { Worker, type ConnectionOptions } from 'bullmq';
import type { Config } from '@sluice/config';
import type { JobRegistry, JobServices, JobSubmitter } from '@sluice/jobs';
import type { Logger } from '@sluice/observability';
import { executionRecordFor, type ExecutionRecord } from './execution-record.ts';
import type { JobEnvelope } from './job-options.ts';
import { createProcessor } from './processor.ts';
import { QUEUE_NAME } from './queue-keys.ts';

export interface JobWorkerOptions {
  config: Config;
  registry: JobRegistry;
  /** The job connection (`openWorkerConnection`); BullMQ duplicates it for blocking reads. */
  connection: ConnectionOptions;
  log: Logger;
  queue: JobSubmitter;
  services?: JobServices;
  onExecution?: (record: ExecutionRecord) => Promise<void> | void;
}

export interface JobWorker {
  readonly worker: Worker<JobEnvelope>;
  /** Number of jobs this worker is running now. */
  activeCount(): number;
  /**
   * Stops taking jobs and waits for active ones up to `timeoutMs`. Resolves `true` when
   * every active job finished, `false` at the timeout: the caller should then exit the
   * process, abandoning the jobs still running with their locks, so that stalled-job
   * recovery re-runs them elsewhere once the locks expire.
   */
  stop(timeoutMs: number): Promise<boolean>;
}

export function createJobWorker(options: JobWorkerOptions): JobWorker {
  const { config } = options;
  let active = 0;
  const run = createProcessor(options);
  const worker = new Worker<JobEnvelope>(
    QUEUE_NAME,
    async (job) => {
      active++;
      try {
        return await run(job);
      } finally {
        active--;
      }
    },
    {
      connection: options.connection,
      prefix: config.redis.prefix,
      concurrency: config.worker.concurrency,
      stalledInterval: config.worker.stalledIntervalMs,
      lockDuration: config.worker.lockDurationMs,
    },
  );
  worker.on('error', (error) => options.log.error({ err: error }, 'worker error'));
  const { onExecution } = options;
  if (onExecution) {
    // A job that stalled more often than BullMQ allows (its workers kept dying mid-run) is
    // failed by the next worker that fetches it, without calling the processor. That fetch is
    // an execution too, and the job's final outcome: record it, or the job's failure would
    // have no row at all.
    worker.on('failed', (job, error) => {
      if (!job || !job.deferredFailure || error.message !== job.deferredFailure) return;
      const now = Date.now();
      const record = executionRecordFor(
        job,
        // BullMQ counted this failure already; it failed the moment it was fetched (durationMs 0).
        { attempt: job.attemptsMade, startedAt: now, status: 'failed', error: { name: 'UnrecoverableError', message: error.message }, willRetry: false },
        now,
      );
      options.log.error({ jobId: job.id, type: job.name, reason: error.message }, 'job failed without running');
      void Promise.resolve(onExecution(record)).catch((cause) => options.log.error({ err: cause, jobId: job.id }, 'audit record not appended'));
    });
  }

  return {
    worker,
    activeCount: () => active,
    async stop(timeoutMs) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const drained = await Promise.race([worker.close().then(() => true as const), timedOut]);
      clearTimeout(timer);
      // No close(true) here: BullMQ returns the close already in progress, which would
      // wait for the very jobs the timeout gave up on.
      return drained;
    },
  };
}
