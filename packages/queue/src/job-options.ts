/** Turns a job definition plus per-submit options into BullMQ job options. */
import type { JobsOptions } from 'bullmq';
import type { Config } from '@sluice/config';
import type { JobDefinition, SubmitOptions } from '@sluice/jobs';
import { InvalidOptionError } from './errors.ts';
import { resolvePriority } from './priority.ts';

/** What each job carries in Redis: the validated payload plus who asked for it. */
export interface JobEnvelope<Data = unknown> {
  data: Data;
  userId: string | null;
}

/** Kept in Redis for the dashboard; the audit table keeps the full history. */
export const DEFAULT_KEEP_COMPLETED = { age: 3600, count: 1000 };
export const DEFAULT_KEEP_FAILED = { age: 7 * 24 * 3600, count: 5000 };
export const DEFAULT_BACKOFF = { type: 'exponential', delayMs: 2000 } as const;

function keep(value: boolean | number | undefined, fallback: { age: number; count: number }) {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  return { count: value };
}

export function buildJobOptions(definition: JobDefinition, options: SubmitOptions, config: Config): JobsOptions {
  const attempts = options.attempts ?? definition.attempts ?? config.worker.attempts;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new InvalidOptionError('attempts', `attempts must be a whole number of at least 1, got "${attempts}"`);
  }
  if (options.delayMs !== undefined && (!Number.isInteger(options.delayMs) || options.delayMs < 0)) {
    throw new InvalidOptionError('delay', `delay must be a whole number of milliseconds >= 0, got "${options.delayMs}"`);
  }
  if (options.jobId !== undefined && (options.jobId === '' || /^\d+$/.test(options.jobId) || options.jobId.includes(':'))) {
    // BullMQ reserves numeric ids for its own counter and uses ':' as its key separator.
    throw new InvalidOptionError('jobId', `jobId must be non-empty, not purely numeric and without ':', got "${options.jobId}"`);
  }
  const backoff = definition.backoff ?? DEFAULT_BACKOFF;
  return {
    priority: resolvePriority(options.priority ?? definition.priority),
    attempts,
    backoff: { type: backoff.type, delay: backoff.delayMs },
    ...(options.delayMs ? { delay: options.delayMs } : {}),
    ...(options.jobId ? { jobId: options.jobId } : {}),
    removeOnComplete: keep(options.removeOnComplete, DEFAULT_KEEP_COMPLETED),
    removeOnFail: keep(options.removeOnFail, DEFAULT_KEEP_FAILED),
  };
}
