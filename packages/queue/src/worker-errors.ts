/**
 * What a worker does with BullMQ's 'error' events. Most are one-offs (a lost lock, a dropped
 * connection). A refusal Redis repeats without end (a changed password, an ACL without INFO)
 * comes back as an error event on every turn of BullMQ's loop, hundreds of thousands a second
 * on promises alone, which starves the process: no timer runs, so no heartbeat and no log
 * flush. Logged each time, it filled a disk in minutes. So each distinct message is logged once
 * per window with how often it came in between, and a storm is handed to `onStorm`, for the
 * process to exit and its supervisor to restart it with backoff (or give up, saying why).
 */
import type { Logger } from '@sluice/observability';

/** How long one message stays quiet after it was logged. */
export const REPEATED_ERROR_WINDOW_MS = 10_000;

/** A storm: this many error events within `withinMs`. BullMQ waits between retries of anything it can recover from. */
export const ERROR_STORM = { events: 1000, withinMs: 1000 } as const;

/** Distinct messages remembered at once; the oldest is forgotten first. */
const MESSAGES_KEPT = 100;

export function workerErrorHandler(log: Logger, onStorm?: (error: Error, events: number) => void): (error: Error) => void {
  const seen = new Map<string, { loggedAt: number; since: number }>();
  let windowStart = 0;
  let inWindow = 0;
  let stormed = false;
  return (error) => {
    const now = Date.now();
    if (now - windowStart > ERROR_STORM.withinMs) {
      windowStart = now;
      inWindow = 0;
    }
    if (++inWindow >= ERROR_STORM.events && onStorm && !stormed) {
      stormed = true;
      onStorm(error, inWindow);
    }
    const key = `${error?.name}: ${error?.message}`;
    const last = seen.get(key);
    if (last && now - last.loggedAt < REPEATED_ERROR_WINDOW_MS) {
      last.since++;
      return;
    }
    seen.delete(key);
    if (seen.size >= MESSAGES_KEPT) seen.delete(seen.keys().next().value!);
    seen.set(key, { loggedAt: now, since: 0 });
    log.error(last?.since ? { err: error, repeatedSinceLastLine: last.since } : { err: error }, 'worker error');
  };
}

/**
 * A handler that starts a promise without awaiting it (`void notify(...)`) and lets it reject.
 * Bun's default for an unhandled rejection exits the process: every job it was running then
 * stalls, and a job that stalls twice fails for good, so one careless handler failed its
 * neighbours and, run again, crash-looped the supervisor. The rejection is logged instead, and
 * the process keeps running. (A throw from a timer callback is still fatal, as it should be.)
 */
export function logStrayRejections(log: Logger): void {
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled promise rejection (a handler did not await a promise it started); the worker keeps running');
  });
}
