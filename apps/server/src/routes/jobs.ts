/** /api/v1/jobs: submit a job, read one (with its audit rows), retry one, remove one. */
import { Elysia } from 'elysia';
import type { Job } from 'bullmq';
import { canNameJob, type JobEnvelope } from '@sluice/queue';
import { readAudit, type ServerDeps } from '../deps.ts';
import { JobConflictError, JobNotFoundError } from '../http-errors.ts';
import { jobView } from './job-view.ts';
import { JobIdParams, strictBody, SubmitBody } from './schemas.ts';

/** Audit rows shown with one job; older ones are in /history?jobId=. */
const AUDIT_ROWS_PER_JOB = 100;
const RETRYABLE_STATES = new Set(['failed', 'completed']);

export function createJobRoutes({ queue, audit, log }: Pick<ServerDeps, 'queue' | 'audit' | 'log'>) {
  const findJob = async (id: string): Promise<Job<JobEnvelope>> => {
    // `meta`, `repeat:<key>` and the like are the queue's own keys, not jobs: never read them as one.
    const job = canNameJob(id) ? ((await queue.queue.getJob(id)) as Job<JobEnvelope> | undefined) : undefined;
    if (!job) throw new JobNotFoundError(id);
    return job;
  };
  // The hash and the state are two reads: a job that finished in between is read again,
  // so a finished state never comes with a half-updated job (e.g. attemptsMade 0).
  const findJobWithState = async (id: string) => {
    const job = await findJob(id);
    const state = await job.getState();
    const finished = state === 'completed' || state === 'failed';
    const runAt = state === 'delayed' ? ((await queue.delayedRunTimes([id])).get(id) ?? null) : null;
    return { job: finished && job.finishedOn === undefined ? await findJob(id) : job, state, runAt };
  };

  return new Elysia({ name: 'jobs', prefix: '/api/v1/jobs' })
    .post(
      '/',
      async ({ body, set }) => {
        const { type, data = {}, delay, priority, jobId, attempts } = body;
        // A taken jobId is a JobExistsError (409), raised after the payload is validated.
        const { id } = await queue.submitByName(type, data, { delayMs: delay, priority, jobId, attempts });
        log.info({ jobId: id, type }, 'job submitted');
        set.status = 201;
        return { id };
      },
      // parse 'json' names the body's type for the OpenAPI document; the request guard's parser reads it first.
      { body: SubmitBody, parse: 'json', transform: strictBody(SubmitBody), detail: { summary: 'Submit a job', tags: ['jobs'] } },
    )
    .get(
      '/:id',
      async ({ params }) => {
        const [{ job, state, runAt }, history] = await Promise.all([
          findJobWithState(params.id),
          // The job itself is in Redis; an audit outage only blanks its history.
          readAudit(audit, (a) => a.getJobHistory({ jobId: params.id, limit: AUDIT_ROWS_PER_JOB })).catch(() => null),
        ]);
        // A custom id can be used again once its job is removed, and BullMQ's numbers start
        // over when Redis is emptied: this job's executions are the ones queued when it was.
        const rows = history?.rows.filter((row) => row.queuedAt.getTime() === job.timestamp) ?? null;
        return { ...jobView(job, state, runAt), audit: rows };
      },
      { params: JobIdParams, detail: { summary: 'A job: state, data, progress, attempts, result or error, and its audit rows', tags: ['jobs'] } },
    )
    .post(
      '/:id/retry',
      async ({ params }) => {
        const job = await findJob(params.id);
        const state = await job.getState();
        if (!RETRYABLE_STATES.has(state)) {
          throw new JobConflictError('JOB_NOT_RETRYABLE', `job "${params.id}" is ${state}; only failed or completed jobs can be retried`);
        }
        await job.retry(state as 'failed' | 'completed').catch((error) => {
          // Another request retried or removed it between the state check and the retry.
          const text = String((error as Error)?.message ?? error);
          if (/^Missing key for job/.test(text)) throw new JobNotFoundError(params.id);
          if (/is not in the \w+ state/.test(text)) {
            throw new JobConflictError('JOB_NOT_RETRYABLE', `job "${params.id}" is no longer ${state} (retried or moved by another request meanwhile); only failed or completed jobs can be retried`);
          }
          throw error;
        });
        log.info({ jobId: params.id, from: state }, 'job retried');
        return { id: params.id, retried: true, from: state };
      },
      { params: JobIdParams, detail: { summary: 'Re-run a failed (or completed) job', tags: ['jobs'] } },
    )
    .delete(
      '/:id',
      async ({ params }) => {
        const job = await findJob(params.id);
        if ((await job.getState()) === 'active') {
          throw new JobConflictError('JOB_LOCKED', `job "${params.id}" is running; remove it after it finishes`);
        }
        try {
          await job.remove();
        } catch (error) {
          // It started between the state check and the removal.
          if (/locked/i.test(String(error))) throw new JobConflictError('JOB_LOCKED', `job "${params.id}" is running; remove it after it finishes`);
          // The next run of a schedule: BullMQ keeps exactly one, and only the schedule's removal takes it.
          if (job.repeatJobKey && /job scheduler/i.test(String(error))) {
            throw new JobConflictError(
              'JOB_SCHEDULED',
              `job "${params.id}" is the next run of schedule "${job.repeatJobKey}"; remove the schedule instead (DELETE /api/v1/jobs/schedules/${encodeURIComponent(job.repeatJobKey)})`,
            );
          }
          throw error;
        }
        log.info({ jobId: params.id }, 'job removed');
        return { id: params.id, removed: true };
      },
      { params: JobIdParams, detail: { summary: 'Remove a job that is not running', tags: ['jobs'] } },
    );
}
