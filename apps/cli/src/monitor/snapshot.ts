/** One read of the queue for `queue:monitor`: counts, the next jobs per state, schedules. Plain JSON-ready data. */
import type { Config } from '@sluice/config';
import type { JobRegistry } from '@sluice/jobs';
import { priorityName, QUEUE_NAME, redactUrl, type JobState, type QueueManager } from '@sluice/queue';

/** The states whose jobs are listed, in the order a worker gets to them. */
export const LISTED_STATES = ['active', 'waiting', 'prioritized', 'delayed'] as const;
export type ListedState = (typeof LISTED_STATES)[number];

export interface JobRow {
  state: ListedState;
  id: string;
  type: string;
  /** Level name (`normal`), or the number when it sits between levels. */
  priority: string;
  priorityNumber: number;
  /** Null when Redis holds a time no date can show (written by another producer). */
  addedAt: string | null;
  /** When a delayed job becomes runnable; null for the other states. */
  runAt: string | null;
  /** Attempts already made (a retrying job waits as `delayed`). */
  attemptsMade: number;
}

export interface ScheduleRow {
  key: string;
  type: string;
  pattern: string | null;
  everyMs: number | null;
  tz: string | null;
  next: string | null;
}

export interface MonitorSnapshot {
  at: string;
  queue: string;
  prefix: string;
  redis: { url: string; status: 'up' | 'down'; latencyMs: number | null; error?: string };
  paused: boolean;
  counts: Record<JobState, number>;
  lastProcessedAt: string | null;
  /** Up to `limit` jobs per listed state, next-to-run first. */
  jobs: JobRow[];
  schedules: ScheduleRow[];
}

const isoTime = (ms: number): string | null => (Number.isFinite(new Date(ms).getTime()) ? new Date(ms).toISOString() : null);
const isoOrNull = (date: Date | undefined): string | null => (date ? isoTime(date.getTime()) : null);

export async function collectSnapshot(queue: QueueManager<JobRegistry>, config: Config, limit: number): Promise<MonitorSnapshot> {
  const health = await queue.getHealth();
  const base = {
    at: new Date().toISOString(),
    queue: QUEUE_NAME,
    prefix: config.redis.prefix,
    redis: { url: redactUrl(config.redis.url), ...health.redis },
    paused: health.paused,
    counts: health.counts,
    lastProcessedAt: health.lastProcessedAt?.toISOString() ?? null,
  };
  if (health.redis.status === 'down') return { ...base, jobs: [], schedules: [] };

  const [lists, schedules] = await Promise.all([
    Promise.all(LISTED_STATES.map(async (state) => ({ state, jobs: limit > 0 ? await queue.queue.getJobs([state], 0, limit - 1, true) : [] }))),
    queue.listCrons(),
  ]);
  // A job can move between the reads; getJobs then yields a gap, not a job.
  const listed = lists.map(({ state, jobs }) => ({ state, jobs: jobs.filter(Boolean) }));
  const delayedIds = listed.filter(({ state }) => state === 'delayed').flatMap(({ jobs }) => jobs.map((job) => String(job.id)));
  const runAtById = await queue.delayedRunTimes(delayedIds);
  const jobs = listed.flatMap(({ state, jobs }) =>
    jobs.map((job): JobRow => {
      const priorityNumber = job.priority ?? job.opts.priority ?? 0;
      return {
        state,
        id: String(job.id),
        type: job.name,
        priority: priorityNumber ? priorityName(priorityNumber) : '-',
        priorityNumber,
        addedAt: isoTime(job.timestamp),
        // Null when the job left the delayed set between the reads.
        runAt: isoOrNull(runAtById.get(String(job.id))),
        attemptsMade: job.attemptsMade,
      };
    }),
  );
  return {
    ...base,
    jobs,
    schedules: schedules.map((s) => ({ key: s.key, type: s.type, pattern: s.pattern, everyMs: s.everyMs, tz: s.tz, next: s.next?.toISOString() ?? null })),
  };
}

