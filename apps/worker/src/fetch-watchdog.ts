/**
 * Notices a worker process that has stopped fetching jobs while it looks healthy. BullMQ 6.7.0's
 * adapter for Bun's Redis client can leave its blocking connection stuck after Redis stalls
 * twice in quick succession: jobs then wait for minutes while the process sends heartbeats and
 * counts as ready. Whatever the cause, the symptom is plain from outside (jobs wait, this worker
 * has free slots and starts none) and so is the remedy: a fresh process.
 */
import type { Queue } from 'bullmq';

/** How often to look. A worker is stuck after two looks in a row find it so. */
export const FETCH_CHECK_EVERY_MS = 15_000;

export interface FetchWatchdogOptions {
  queue: Queue;
  concurrency: number;
  activeCount: () => number;
  /** True while the worker holds back on purpose (Redis is full): not stuck. */
  heldBack?: () => boolean;
  /** Called once, with the jobs waiting and how long since this worker last started one. */
  onStuck: (waiting: number, idleMs: number) => void;
  checkEveryMs?: number;
}

export function watchFetching({ queue, concurrency, activeCount, heldBack = () => false, onStuck, checkEveryMs = FETCH_CHECK_EVERY_MS }: FetchWatchdogOptions) {
  let lastStartedAt = Date.now();
  let suspectSince: number | null = null;
  let reported = false;
  const clear = () => (suspectSince = null);

  const check = async () => {
    if (reported || activeCount() >= concurrency || heldBack()) return clear();
    // Waiting on purpose: a paused queue, or a global concurrency or rate limit set on it (the dashboard can).
    const [counts, paused, globalConcurrency, rateLimitTtl] = await Promise.all([
      queue.getJobCounts('wait', 'prioritized'),
      queue.isPaused(),
      queue.getGlobalConcurrency(),
      queue.getRateLimitTtl(),
    ]);
    const waiting = (counts.wait ?? 0) + (counts.prioritized ?? 0);
    if (waiting === 0 || paused || globalConcurrency !== null || rateLimitTtl > 0) return clear();
    const now = Date.now();
    if (suspectSince === null || lastStartedAt >= suspectSince) {
      suspectSince = now;
      return;
    }
    reported = true;
    onStuck(waiting, now - lastStartedAt);
  };

  const timer = setInterval(() => {
    // Redis not answering is an outage, which the connections wait out: not this check's business.
    check().catch(() => {});
  }, checkEveryMs);
  return {
    /** Call when this worker starts a job. */
    started() {
      lastStartedAt = Date.now();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
