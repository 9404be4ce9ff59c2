/** The JSON shape the API gives a BullMQ job, free of BullMQ internals. */
import type { Job } from 'bullmq';
import { priorityName, type JobEnvelope } from '@sluice/queue';

/** Null for a time no date can hold (a job written by another producer), rather than a RangeError. */
const iso = (ms: number | undefined | null) => (ms && Number.isFinite(new Date(ms).getTime()) ? new Date(ms).toISOString() : null);

export interface JobView {
  id: string;
  type: string;
  state: string;
  data: unknown;
  userId: string | null;
  priority: string | null;
  progress: unknown;
  attemptsMade: number;
  attemptsStarted: number;
  maxAttempts: number;
  queuedAt: string | null;
  /** When a delayed job (waiting out its delay or a retry's backoff) runs; null in the other states. */
  runAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  result: unknown;
  /** The last failed attempt's error while the job is not completed (failed, or waiting to retry). */
  error: string | null;
  stacktrace: string[];
  /** Set when a Job Scheduler created this job. */
  schedulerKey: string | null;
}

export function jobView(job: Job<JobEnvelope>, state: string, runAt: Date | null = null): JobView {
  // BullMQ keeps an earlier attempt's failedReason and stacks after a retry succeeds; a
  // completed job has no error (its audit rows keep each attempt's).
  const completed = state === 'completed';
  return {
    id: job.id!,
    type: job.name,
    state,
    data: job.data?.data ?? null,
    userId: job.data?.userId ?? null,
    priority: job.opts.priority ? priorityName(job.opts.priority) : null,
    progress: job.progress,
    attemptsMade: job.attemptsMade,
    attemptsStarted: job.attemptsStarted,
    maxAttempts: job.opts.attempts ?? 1,
    queuedAt: iso(job.timestamp),
    runAt: iso(runAt?.getTime()),
    startedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
    result: job.returnvalue ?? null,
    error: completed ? null : job.failedReason || null,
    stacktrace: completed ? [] : (job.stacktrace ?? []),
    schedulerKey: job.repeatJobKey ?? null,
  };
}

/** Compact form for lists (failures). */
export function failureView(job: Job<JobEnvelope>) {
  return {
    id: job.id!,
    type: job.name,
    error: job.failedReason || null,
    attemptsMade: job.attemptsMade,
    maxAttempts: job.opts.attempts ?? 1,
    data: job.data?.data ?? null,
    failedAt: iso(job.finishedOn),
  };
}
