/** Turns a job definition plus per-submit options into BullMQ job options. */
import { QueueKeys, type JobsOptions } from 'bullmq';
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

/**
 * The longest `delay` and schedule interval: 365 days. A larger one is almost surely a unit
 * mistake, and far enough out it leaves the range of a JavaScript date (the job could then
 * never be shown) or of the delayed set's exact scores.
 */
export const MAX_DELAY_MS = 365 * 24 * 3600 * 1000;
/**
 * The shortest interval a schedule may repeat at. Cron's finest step is a second too; a shorter
 * `every` is most often seconds typed as milliseconds (`--every 60`), which queues a job per tick.
 */
export const MIN_EVERY_MS = 1000;

/**
 * The longest custom job id and schedule key. Each execution's audit row indexes its job id
 * (and an id built from it, or from a schedule's key): Postgres refuses an index entry over
 * about 2.7 kB, so a longer id would have every execution's record parked instead of stored.
 */
export const MAX_JOB_ID_CHARS = 512;

/** The most attempts a job may have, however it is submitted (API, CLI, a handler, the dashboard). */
export const MAX_ATTEMPTS = 1000;
export const MAX_SCHEDULE_KEY_CHARS = 256;

function keep(value: boolean | number | undefined, fallback: { age: number; count: number }) {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  return { count: value };
}

/**
 * A job is stored at `<prefix>:jobs:<id>`, beside the queue's own keys (`<prefix>:jobs:wait`,
 * `:meta`, `:repeat`...). An id equal to one of those names would overwrite that key and break
 * the queue for everyone, so those names are refused. The list comes from BullMQ itself.
 */
const QUEUE_KEY_NAMES: ReadonlySet<string> = new Set(Object.keys(new QueueKeys().getKeys('jobs')).filter(Boolean));

/** The jobs API serves these at `/api/v1/jobs/<name>`, where a job so named could never be read. */
const API_PATH_NAMES: ReadonlySet<string> = new Set(['stats', 'health', 'failures', 'history', 'schedules', 'queue']);

const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The id BullMQ gives each run of a schedule: `repeat:<schedule key>:<run time in ms>`. */
const SCHEDULED_RUN_ID = /^repeat:[^:]+:\d+$/;

/**
 * Whether a job can be stored under `id`: one of BullMQ's numbers, a custom id (as checkJobId
 * accepts them), or a schedule's run. Any other name read as a job would be one of the queue's
 * own keys (`meta`; `repeat:<key>` is the schedule itself): reading it fails or invents a job,
 * and removing it deletes that key. Lookups of such names find no job.
 */
export function canNameJob(id: string): boolean {
  if (/^[1-9]\d*$/.test(id) || SCHEDULED_RUN_ID.test(id)) return true;
  try {
    checkJobId(id);
    return true;
  } catch {
    return false;
  }
}

function checkJobId(jobId: string): void {
  const problem =
    jobId.trim() === '' ? 'must not be empty or blank'
    : jobId.length > MAX_JOB_ID_CHARS ? `must be at most ${MAX_JOB_ID_CHARS} characters (it has ${jobId.length})`
    // BullMQ numbers its own jobs and refuses custom ids that read as integers (`-1` too), and
    // `NaN`, which its check (`${parseInt(id)}` === id) takes for one.
    : /^-?\d+$/.test(jobId) || jobId === 'NaN' ? 'must not be a number (BullMQ numbers its own jobs)'
    // ':' separates the parts of BullMQ's Redis keys.
    : jobId.includes(':') ? "must not contain ':'"
    // Redis and Postgres would each store a replacement character: the id would not match itself.
    : LONE_SURROGATE.test(jobId) ? 'must be valid Unicode text (it holds half of a surrogate pair)'
    // Postgres text cannot hold U+0000, and a newline or an escape sequence breaks every listing of the id.
    : CONTROL_CHARACTER.test(jobId) ? 'must not contain control characters (U+0000-U+001F, U+007F-U+009F: NUL, newlines, tabs, terminal escapes)'
    : QUEUE_KEY_NAMES.has(jobId) ? `must not be one of the queue's own key names (${[...QUEUE_KEY_NAMES].join(', ')})`
    : API_PATH_NAMES.has(jobId) ? `must not be a path of the jobs API (${[...API_PATH_NAMES].join(', ')})`
    : null;
  if (problem) throw new InvalidOptionError('jobId', `jobId ${problem}, got ${JSON.stringify(jobId.length > 80 ? `${jobId.slice(0, 60)}…` : jobId)}`);
}

/** Who asked for a job, as the audit trail stores it (`user_id`, text): a string, or none. */
export function checkUserId(userId: unknown): string | null {
  if (userId === undefined || userId === null) return null;
  const problem =
    typeof userId !== 'string' ? `must be a string, got ${typeof userId}${typeof userId === 'number' ? ` (${userId}; pass String(id))` : ''}`
    : userId === '' ? 'must not be empty (leave it out for none)'
    : userId.length > 256 ? `must be at most 256 characters, got ${userId.length}`
    : CONTROL_CHARACTER.test(userId) ? 'must not contain control characters'
    : LONE_SURROGATE.test(userId) ? 'must be valid Unicode text (it holds half of a surrogate pair)'
    : null;
  if (problem) throw new InvalidOptionError('userId', `userId ${problem}`);
  return userId as string;
}

export function buildJobOptions(definition: JobDefinition, options: SubmitOptions, config: Config): JobsOptions {
  const attempts = options.attempts ?? definition.attempts ?? config.worker.attempts;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) {
    throw new InvalidOptionError('attempts', `attempts must be a whole number from 1 to ${MAX_ATTEMPTS}, got "${attempts}"`);
  }
  if (options.delayMs !== undefined && (!Number.isInteger(options.delayMs) || options.delayMs < 0 || options.delayMs > MAX_DELAY_MS)) {
    throw new InvalidOptionError('delay', `delay must be a whole number of milliseconds from 0 to ${MAX_DELAY_MS} (365 days), got "${options.delayMs}"`);
  }
  if (options.jobId !== undefined) {
    checkJobId(options.jobId);
    checkNoEdgeSpace('jobId', 'jobId', options.jobId);
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

/**
 * A schedule key becomes part of the job id of each of its runs (`repeat:<key>:<time>`) and is
 * printed by every listing, so it follows the job-id rules for characters: no ':', no control
 * characters, no half of a surrogate pair. Numbers and queue key names are fine: they never
 * stand alone as a job id.
 */
export function checkScheduleKey(key: string): void {
  const problem =
    key.trim() === '' || key.includes(':') ? "must be non-empty and without ':'"
    : key.length > MAX_SCHEDULE_KEY_CHARS ? `must be at most ${MAX_SCHEDULE_KEY_CHARS} characters (it has ${key.length})`
    : LONE_SURROGATE.test(key) ? 'must be valid Unicode text (it holds half of a surrogate pair)'
    : CONTROL_CHARACTER.test(key) ? 'must not contain control characters (U+0000-U+001F, U+007F-U+009F: NUL, newlines, tabs, terminal escapes)'
    : null;
  if (problem) throw new InvalidOptionError('key', `schedule key ${problem}, got ${JSON.stringify(key.length > 80 ? `${key.slice(0, 60)}…` : key)}`);
  checkNoEdgeSpace('key', 'schedule key', key);
}

/**
 * A new job id or schedule key that starts or ends with white space (`--job-id "  7"`, pasted
 * with a tab) would not match the name typed without it, in every lookup after. Refused when
 * the name is given, not when one already stored is looked up.
 */
function checkNoEdgeSpace(field: string, label: string, name: string): void {
  if (name.trim() !== name) {
    throw new InvalidOptionError(field, `${label} must not start or end with white space (it would not match ${JSON.stringify(name.trim())}), got ${JSON.stringify(name.length > 80 ? `${name.slice(0, 60)}…` : name)}`);
  }
}
