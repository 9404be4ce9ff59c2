/**
 * One promise per event-loop turn, resolved by `setImmediate`: every job that finishes in
 * a turn waits for the same turn's end, so BullMQ writes their completions to Redis
 * together instead of one socket write each. With auditing on, the audit appender gives
 * jobs the same wait (it sends their records as one entry first); this is the wait without it.
 */
let pending: Promise<void> | null = null;

export function nextTurn(): Promise<void> {
  pending ??= new Promise<void>((resolve) =>
    setImmediate(() => {
      pending = null;
      resolve();
    }),
  );
  return pending;
}
