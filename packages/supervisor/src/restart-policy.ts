/** Decides how long to wait before restarting a crashed child, and when to give up. */

export interface RestartPolicy {
  /** First restart delay; doubles per consecutive crash. Default 500 ms. */
  baseDelayMs: number;
  /** Cap on the restart delay. Default 15000 ms. */
  maxDelayMs: number;
  /** Give up when one slot crashes more than this many times within `windowMs`. Default 5. */
  maxCrashes: number;
  /** Default 60000 ms. */
  windowMs: number;
  /** A child that stayed up this long resets its backoff. Default 10000 ms. */
  stableAfterMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  baseDelayMs: 500,
  maxDelayMs: 15_000,
  maxCrashes: 5,
  windowMs: 60_000,
  stableAfterMs: 10_000,
};

export class CrashTracker {
  private crashes: number[] = [];
  private consecutive = 0;

  constructor(private readonly policy: RestartPolicy) {}

  /** Records a crash; returns the delay before restarting, or null when the slot is crash-looping. */
  recordCrash(now: number, upForMs: number): number | null {
    this.crashes = [...this.crashes.filter((t) => now - t < this.policy.windowMs), now];
    this.consecutive = upForMs >= this.policy.stableAfterMs ? 1 : this.consecutive + 1;
    if (this.crashes.length > this.policy.maxCrashes) return null;
    return Math.min(this.policy.baseDelayMs * 2 ** (this.consecutive - 1), this.policy.maxDelayMs);
  }

  get recentCrashes(): number {
    return this.crashes.length;
  }
}
