/**
 * Runs one BullMQ job through its handler: resolve the definition -> check the payload ->
 * run with a child logger, context and timeout -> report the execution. Permanent errors
 * become BullMQ's UnrecoverableError here (handler-failure.ts) and nowhere else.
 */
import { UnrecoverableError, type Job } from 'bullmq';
import type { Config } from '@sluice/config';
import { createPayloadValidator, type JobInfo, type JobRegistry, type JobServices, type JobSubmitter } from '@sluice/jobs';
import type { Logger } from '@sluice/observability';
import { executionRecordFor, type ExecutionError, type ExecutionRecord } from './execution-record.ts';
import { handlerFailure, unstorableResult } from './handler-failure.ts';
import { BEING_ADDED, JobExistsError, JobTimeoutError } from './errors.ts';
import type { JobEnvelope } from './job-options.ts';
import { nextTurn } from './next-turn.ts';

export interface ProcessorOptions {
  config: Config;
  registry: JobRegistry;
  log: Logger;
  queue: JobSubmitter;
  /** Handed to handlers as `ctx.services`. Default none. */
  services?: JobServices;
  /**
   * Awaited before the job is reported finished. The audit appender resolves once the
   * record is written to the job connection, ahead of the completion BullMQ sends after it.
   * Without it, a job waits for the end of its event-loop turn (`nextTurn`), so the
   * completions of jobs finishing together go to Redis together. Rejecting for a completed
   * record means its result cannot be stored (the audit appender rejects only a record
   * JSON.stringify refuses): the job then fails for good, saying so, with a failed record.
   */
  onExecution?: (record: ExecutionRecord) => Promise<void> | void;
}

export type Processor = (job: Job<JobEnvelope>) => Promise<unknown>;

export function createProcessor({ config, registry, log, queue: producer, services = {}, onExecution }: ProcessorOptions): Processor {
  // A handler that names its follow-up job (`jobId`) wants that job to exist once; finding it
  // there already is success, not a failure that would retry the handler.
  const queue: JobSubmitter = {
    async submit(type, data, options) {
      // Another submit holding the id right now may still fail to add it: wait for its outcome (up to ~2 s).
      for (let tries = 0; ; tries++) {
        try {
          return await producer.submit(type, data, options);
        } catch (error) {
          if (!(error instanceof JobExistsError)) throw error;
          if (error.state !== BEING_ADDED || tries >= 40) return { id: error.jobId, existed: true };
          await Bun.sleep(50);
        }
      }
    },
  };
  const validate = createPayloadValidator(registry);

  return async (job) => {
    const startedAt = Date.now();
    const info: JobInfo = {
      id: job.id!,
      type: job.name,
      attempt: job.attemptsMade + 1,
      maxAttempts: job.opts.attempts ?? 1,
      queuedAt: new Date(job.timestamp),
      userId: job.data?.userId ?? null,
    };
    const bindings = { jobId: info.id, type: info.type, attempt: info.attempt };
    // Created on first use: a pino child costs more than a no-op job, and most handlers never log.
    let jobLog: Logger | undefined;
    const report = async (outcome: Pick<ExecutionRecord, 'status' | 'result' | 'error' | 'willRetry'>) => {
      if (!onExecution) return nextTurn();
      await onExecution(executionRecordFor(job, { attempt: info.attempt, startedAt, ...outcome }));
    };

    try {
      const definition = registry[job.name];
      if (!definition) throw new UnrecoverableError(`unknown job type "${job.name}"`);
      const problem = validate(job.name, job.data?.data);
      if (problem) throw new UnrecoverableError(`invalid data for "${job.name}": ${problem.path} ${problem.message}`.trim());

      log.debug(bindings, 'job started');
      const cancel = lazyAbort();
      const args = {
        data: job.data.data,
        job: info,
        get log() {
          return (jobLog ??= log.child(bindings));
        },
        ctx: {
          config,
          queue,
          services,
          get signal() {
            return cancel.signal();
          },
          progress: (value: number | Record<string, unknown>) => job.updateProgress(value),
        },
      };
      const result = await withTimeout(() => definition.run(args), definition.timeoutMs, cancel.abort);
      try {
        await report({ status: 'completed', result, willRetry: false });
      } catch (reason) {
        // The record was not appended: this execution's row is the failure reported below.
        throw unstorableResult(reason);
      }
      // Same fields as a child logger's line, without building one per job.
      if (log.isLevelEnabled('info')) log.info({ ...bindings, durationMs: Date.now() - startedAt }, 'job completed');
      return result;
    } catch (value) {
      // Whatever was thrown (null, an Error whose getters throw), nothing here may throw in its place.
      const failure = handlerFailure(value);
      const willRetry = !failure.permanent && info.attempt < info.maxAttempts;
      await report({ status: 'failed', error: failure.error, willRetry });
      logFailure(log, { ...bindings, willRetry }, failure.logged, failure.error);
      throw failure.thrown;
    }
  };
}

/**
 * The `job failed` line. pino's err serializer throws on some errors (a frozen one: it tags
 * the object it serialises; one with a throwing getter): the recorded description is logged
 * instead, so logging never replaces the job's error or changes its outcome.
 */
function logFailure(log: Logger, fields: { willRetry: boolean } & Record<string, unknown>, error: unknown, described: ExecutionError): void {
  const level = fields.willRetry ? 'warn' : 'error';
  try {
    log[level]({ ...fields, err: error }, 'job failed');
  } catch {
    try {
      // With no prototype, pino's serializer names it by its `name` rather than as `Object`.
      log[level]({ ...fields, err: Object.assign(Object.create(null), described) }, 'job failed');
    } catch {
      // A logger that cannot write a plain object has nothing more to be told.
    }
  }
}

/**
 * The job's AbortSignal, made only when the handler reads it: an AbortController per job
 * costs about a microsecond, and most handlers never look. Aborting before it exists
 * hands out an already aborted signal.
 */
function lazyAbort() {
  let controller: AbortController | undefined;
  let reason: unknown;
  return {
    signal(): AbortSignal {
      if (!controller) {
        controller = new AbortController();
        if (reason !== undefined) controller.abort(reason);
      }
      return controller.signal;
    },
    abort(why: unknown): void {
      reason = why;
      controller?.abort(why);
    },
  };
}

/** Starts the handler and fails it with JobTimeoutError once it has run longer than `timeoutMs`. */
async function withTimeout<T>(start: () => Promise<T>, timeoutMs: number | undefined, abort: (reason: unknown) => void): Promise<T> {
  if (!timeoutMs) return start();
  const timedOut = () => {
    const error = new JobTimeoutError(timeoutMs);
    abort(error);
    return error;
  };
  const called = performance.now();
  const running = start();
  // A handler whose synchronous start (a busy loop, a long sync call before its first await)
  // outlasts the timeout returns before the timer can fire. Nothing else ran meanwhile, so that
  // time is its own. Later waits are not counted here: another job may have held the loop then.
  const heldTheLoop = performance.now() - called > timeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // From the call: the synchronous start is the handler's own time too.
    timer = setTimeout(() => reject(timedOut()), Math.max(0, timeoutMs - (performance.now() - called)));
  });
  try {
    const result = await Promise.race([running, timeout]);
    if (heldTheLoop) throw timedOut();
    return result;
  } finally {
    clearTimeout(timer);
  }
}
