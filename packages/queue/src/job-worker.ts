/** Wraps one BullMQ Worker on the `jobs` queue with Sluice's processor and a bounded graceful stop. */
import { Worker, type ConnectionOptions, type Job, type Processor, type WorkerOptions } from 'bullmq';
import type { Config } from '@sluice/config';
import type { JobRegistry, JobServices, JobSubmitter } from '@sluice/jobs';
import type { Logger } from '@sluice/observability';
import { executionRecordFor, type ExecutionRecord } from './execution-record.ts';
import type { JobEnvelope } from './job-options.ts';
import { createProcessor } from './processor.ts';
import { QUEUE_NAME } from './queue-keys.ts';
import { workerErrorHandler } from './worker-errors.ts';

export interface JobWorkerOptions {
  config: Config;
  registry: JobRegistry;
  /** The job connection (`openWorkerConnection`); BullMQ duplicates it for blocking reads. */
  connection: ConnectionOptions;
  /**
   * Whether the job connection's socket is open (`WorkerConnection.connected`). With it, a stop
   * does not wait for a Redis that closed the connection once no job's outcome is still on its
   * way; without it, a stop waits for BullMQ's close up to its timeout.
   */
  connected?: () => boolean;
  log: Logger;
  queue: JobSubmitter;
  services?: JobServices;
  onExecution?: (record: ExecutionRecord) => Promise<void> | void;
  /**
   * BullMQ reported errors without pause (`ERROR_STORM`): Redis refuses this worker something on
   * every try, and the process is starved of timers. Called once, from inside the storm: only
   * synchronous work (a worker process writes a line and exits) gets done.
   */
  onErrorStorm?: (error: Error, events: number) => void;
}

/** How long a worker first takes no jobs when Redis is full, doubling while it stays full, up to the most. */
export const REDIS_FULL_PAUSE_MS = { first: 1000, most: 30_000 } as const;

/**
 * How a stop ended: every job finished and BullMQ closed (`drained`); the timeout passed
 * first (`timed-out`); Redis had closed the connection and nothing was left for it to take
 * (`redis-gone`), so BullMQ's close, which waits for Redis to answer, was not awaited; or
 * every job's outcome was in Redis and BullMQ's close still had not returned a while later
 * (`close-stuck`: a blocking connection that does not come back, after the process was frozen).
 */
export type StopOutcome = 'drained' | 'timed-out' | 'redis-gone' | 'close-stuck';

export interface JobWorker {
  readonly worker: Worker<JobEnvelope>;
  /** Number of jobs this worker is running now. */
  activeCount(): number;
  /** True while the worker takes no new jobs, or only just takes them again, because Redis is full (see `REDIS_FULL_PAUSE_MS`). */
  heldBack(): boolean;
  /**
   * Stops taking jobs and waits for active ones up to `timeoutMs`. Short of `drained`, the
   * caller should return the jobs still running (`returnUnfinished`) and exit the process.
   */
  stop(timeoutMs: number): Promise<StopOutcome>;
  /**
   * Puts the jobs still running back in the queue, releasing their locks, so another worker
   * runs them again from the start now, without counting a stall or an attempt (BullMQ allows
   * one stall: two deploys during one long job would otherwise fail it for good). For a
   * stopping process, right before it exits: a handler still running here would otherwise
   * overlap the new run. A job Redis does not take back is left for stalled-job recovery.
   */
  returnUnfinished(): Promise<{ returned: string[]; left: string[] }>;
}

/** How long the job connection must stay closed, with nothing unsettled, before a stop stops waiting for Redis. */
const REDIS_GONE_MS = 1000;
/** How long BullMQ's close may take, with every outcome recorded and Redis connected, before a stop stops waiting for it. */
const CLOSE_STUCK_MS = 3000;

/**
 * BullMQ's Worker, saying when it is done with a job. `processJob` runs the processor and
 * then records the outcome, retrying while Redis is unreachable; it resolves once the
 * outcome is recorded or BullMQ gave up on it: after a lost lock, moveToCompleted and then
 * moveToFailed are refused ('Missing lock for job X', only an 'error' event, neither
 * 'completed' nor 'failed'), and another worker re-runs the job. Either way BullMQ has
 * nothing left to send for it.
 */
class SettlingWorker extends Worker<JobEnvelope> {
  constructor(
    processor: Processor<JobEnvelope>,
    opts: WorkerOptions,
    private readonly onDone: (job: Job<JobEnvelope>) => void,
  ) {
    super(QUEUE_NAME, processor, opts);
  }

  override async processJob(job: Job<JobEnvelope>, token: string, fetchNextCallback?: () => boolean) {
    try {
      return await super.processJob(job, token, fetchNextCallback);
    } finally {
      this.onDone(job);
    }
  }
}

export function createJobWorker(options: JobWorkerOptions): JobWorker {
  const { config } = options;
  let active = 0;
  /**
   * Jobs taken whose outcome is still on its way: running, or their completion not yet
   * answered. A job leaves when Redis records its outcome or BullMQ gives up recording it.
   */
  const unsettled = new Set<Job>();
  /** Jobs whose handler is running, with the lock token each was taken under. */
  const running = new Map<Job<JobEnvelope>, string>();
  const run = createProcessor(options);
  const worker = new SettlingWorker(
    async (job, token) => {
      active++;
      unsettled.add(job);
      if (token) running.set(job, token);
      try {
        return await run(job);
      } finally {
        active--;
        running.delete(job);
      }
    },
    {
      connection: options.connection,
      prefix: config.redis.prefix,
      concurrency: config.worker.concurrency,
      stalledInterval: config.worker.stalledIntervalMs,
      lockDuration: config.worker.lockDurationMs,
    },
    // Still unsettled when BullMQ is done with it: Redis refused the outcome (the lock was
    // lost, or the job was removed meanwhile). No longer ours to settle; nothing waits for it.
    (job) => {
      if (!unsettled.delete(job)) return;
      options.log.warn({ jobId: job.id, type: job.name }, 'job outcome not recorded (lock lost or job gone); not waiting for it');
    },
  );
  const full = holdBackWhileRedisFull(worker, options.log);
  worker.on('error', workerErrorHandler(options.log, options.onErrorStorm, full.onStorm));
  // Emitted once Redis accepted the outcome; a completion it never answers keeps its job here.
  worker.on('completed', (job) => unsettled.delete(job));
  worker.on('failed', (job) => void (job && unsettled.delete(job)));
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
    heldBack: full.heldBack,
    async returnUnfinished() {
      const jobs = [...running];
      const moved = await Promise.all(jobs.map(([job, token]) => job.moveToWait(token).then(() => true, () => false)));
      const ids = (want: boolean) => jobs.filter((_, i) => moved[i] === want).map(([job]) => job.id!);
      return { returned: ids(true), left: ids(false) };
    },
    async stop(timeoutMs) {
      full.stop();
      let timer: ReturnType<typeof setTimeout> | undefined;
      let watch: ReturnType<typeof setInterval> | undefined;
      const timedOut = new Promise<StopOutcome>((resolve) => (timer = setTimeout(() => resolve('timed-out'), timeoutMs)));
      // BullMQ's close sends QUIT and waits for the answer: with Redis gone, the whole timeout.
      // Not waiting is safe only once no job's outcome is still waiting to reach Redis.
      const { connected } = options;
      let goneSince = 0;
      let settledSince = 0;
      const redisGone = new Promise<StopOutcome>((resolve) => {
        watch = setInterval(() => {
          if (unsettled.size > 0) {
            goneSince = settledSince = 0;
            return;
          }
          const now = Date.now();
          settledSince ||= now;
          if (now - settledSince >= CLOSE_STUCK_MS) resolve('close-stuck');
          if (!connected || connected()) {
            goneSince = 0;
            return;
          }
          goneSince ||= now;
          if (now - goneSince >= REDIS_GONE_MS) resolve('redis-gone');
        }, 100);
      });
      const outcome = await Promise.race([worker.close().then(() => 'drained' as const), timedOut, redisGone]);
      clearTimeout(timer);
      clearInterval(watch);
      // No close(true) here: BullMQ returns the close already in progress, which would
      // wait for the very jobs the timeout gave up on.
      return outcome;
    },
  };
}

/**
 * Redis is full (used memory over maxmemory under noeviction): BullMQ's fetch then fails, and
 * tries again at once, thousands of times a second. As a storm that would stop the process:
 * the supervisor restarts it into the same storm until it gives up and the server stops, and
 * the audit records the process keeps while Redis refuses them are lost. Instead the worker
 * takes no new jobs for a while (those running go on, and their outcomes are retried), then
 * tries again, waiting twice as long each time Redis is still full.
 */
function holdBackWhileRedisFull(worker: Worker<JobEnvelope>, log: JobWorkerOptions['log']) {
  let pauseMs = 0;
  let until = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  return {
    /** From the first pause until Redis has not been full for as long as the last pause. */
    heldBack: () => pauseMs > 0,
    onStorm() {
      if (stopped || until > 0) return;
      clearTimeout(timer);
      pauseMs = Math.min(REDIS_FULL_PAUSE_MS.most, pauseMs === 0 ? REDIS_FULL_PAUSE_MS.first : pauseMs * 2);
      until = Date.now() + pauseMs;
      log.warn({ pauseMs }, 'redis is out of memory: taking no new jobs for a while (jobs running go on); free memory or raise maxmemory');
      void worker.pause(true).then(() => {
        timer = setTimeout(() => {
          until = 0;
          if (!stopped) void worker.resume();
          // Full again at once: the next storm doubles the pause. Not full for as long again: it starts over.
          timer = setTimeout(() => (pauseMs = 0), pauseMs);
        }, pauseMs);
      });
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
