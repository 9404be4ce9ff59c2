/**
 * What a worker does with BullMQ's 'error' events and stray promise rejections. Most errors are
 * one-offs or come in bursts that end (a lost lock is one error per job that held one). A
 * refusal Redis repeats without end (a changed password, an ACL without INFO) comes back as
 * the same error on every turn of BullMQ's loop, hundreds of thousands a second on promises
 * alone, which starves the process: no timer runs, so no heartbeat and no log flush. Logged
 * each time, it filled a disk in minutes. So each kind of message is logged once per window
 * with how often it came in between, and a storm of one message is handed to `onStorm`, for the
 * process to exit and its supervisor to restart it with backoff (or give up, saying why).
 */
import type { Logger } from '@sluice/observability';
import { isRedisOutOfMemory } from './errors.ts';

/** How long one kind of message stays quiet after it was logged. */
export const REPEATED_ERROR_WINDOW_MS = 10_000;

/**
 * A storm: one and the same message this many times within `withinMs`. BullMQ waits between
 * retries of anything it can recover from, and the bursts that end (a lost lock per job) name
 * a different job in each message.
 */
export const ERROR_STORM = { events: 1000, withinMs: 1000 } as const;

/** Kinds of message remembered at once; the oldest is forgotten first. */
const MESSAGES_KEPT = 100;

/** Lines logged per window, whatever their kinds: many kinds at once are a storm too. */
const LINES_PER_WINDOW = 20;

/** The kind of a message: `could not renew lock for job 17` and `… job 18`, or `request 7 failed` and `request 8 failed`, are one kind. */
function kindOf(message: string): string {
  return message.replace(/\bjob \S+/gi, 'job …').replace(/\d+/g, '#');
}

/**
 * Whether a message of this kind is due to be logged now, and how many of its kind (`since`),
 * and of any kind past the window's budget (`dropped`), were held back since the last line.
 */
function repeatLimiter(windowMs: number) {
  const seen = new Map<string, { loggedAt: number; since: number }>();
  let windowStart = 0;
  let lines = 0;
  let dropped = 0;
  return (kind: string, now: number): { due: boolean; since: number; dropped: number } => {
    if (now - windowStart >= windowMs) {
      windowStart = now;
      lines = 0;
    }
    const last = seen.get(kind);
    if ((last && now - last.loggedAt < windowMs) || lines >= LINES_PER_WINDOW) {
      if (last && now - last.loggedAt < windowMs) last.since++;
      else dropped++;
      return { due: false, since: 0, dropped: 0 };
    }
    seen.delete(kind);
    if (seen.size >= MESSAGES_KEPT) seen.delete(seen.keys().next().value!);
    seen.set(kind, { loggedAt: now, since: 0 });
    lines++;
    const held = { since: last?.since ?? 0, dropped };
    dropped = 0;
    return { due: true, ...held };
  };
}

/** What a line says of the lines held back before it. */
const heldBack = ({ since, dropped }: { since: number; dropped: number }) => ({
  ...(since ? { repeatedSinceLastLine: since } : {}),
  ...(dropped ? { otherLinesDropped: dropped } : {}),
});

const messageOf = (value: unknown): string => {
  try {
    return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
  } catch {
    return '[unprintable]';
  }
};

/**
 * `onRedisFull`: a storm of a full Redis's refusals (`isRedisOutOfMemory`) goes here instead of
 * to `onStorm`, every time one comes: the worker waits for memory to be freed, rather than stop
 * and lose the audit records it keeps while Redis refuses them.
 */
export function workerErrorHandler(log: Logger, onStorm?: (error: Error, events: number) => void, onRedisFull?: () => void): (error: Error) => void {
  const limiter = repeatLimiter(REPEATED_ERROR_WINDOW_MS);
  let windowStart = 0;
  let counts = new Map<string, number>();
  let stormed = false;
  return (error) => {
    const now = Date.now();
    const message = messageOf(error);
    if (now - windowStart > ERROR_STORM.withinMs) {
      windowStart = now;
      counts = new Map();
    }
    const same = (counts.get(message) ?? 0) + 1;
    counts.set(message, same);
    if (same >= ERROR_STORM.events && onRedisFull && isRedisOutOfMemory(error)) {
      counts.set(message, 0);
      onRedisFull();
    } else if (same >= ERROR_STORM.events && onStorm && !stormed) {
      stormed = true;
      onStorm(error, same);
    }
    const held = limiter(kindOf(message), now);
    if (!held.due) return;
    if (isRedisOutOfMemory(error)) {
      log.error({ err: error, ...heldBack(held) }, 'redis is out of memory (maxmemory reached; its policy refuses writes): jobs cannot start or finish until memory is freed or maxmemory raised');
    } else {
      log.error({ err: error, ...heldBack(held) }, 'worker error');
    }
  };
}

/**
 * A handler that starts a promise without awaiting it (`void notify(...)`) and lets it reject.
 * Bun's default for an unhandled rejection exits the process: every job it was running then
 * stalls, and a job that stalls twice fails for good, so one careless handler failed its
 * neighbours and, run again, crash-looped the supervisor. The rejection is logged instead (as
 * `worker error`s are, once per kind per window), and the process keeps running. Nothing in
 * here may throw: a reason whose getters throw is logged by what can be read of it. (A throw
 * from a timer callback is still fatal, as it should be.)
 */
export function logStrayRejections(log: Logger): void {
  const limiter = repeatLimiter(REPEATED_ERROR_WINDOW_MS);
  const message = 'unhandled promise rejection (a handler did not await a promise it started); the worker keeps running';
  process.on('unhandledRejection', (reason) => {
    const described = messageOf(reason);
    const held = limiter(kindOf(described), Date.now());
    if (!held.due) return;
    const extra = heldBack(held);
    try {
      log.error({ err: reason, ...extra }, message);
    } catch {
      try {
        log.error({ reason: described, ...extra }, message);
      } catch {
        // A logger that cannot write a string has nothing more to be told.
      }
    }
  });
}
