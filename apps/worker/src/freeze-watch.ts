/**
 * Notices that this process was frozen: stopped (SIGSTOP, `docker pause`) or its VM paused.
 * Its timers then fire late although it used next to no CPU meanwhile, unlike a handler that
 * holds the event loop, which burns CPU for the whole gap. Bun's Redis client, through
 * BullMQ's adapter, can come back from such a freeze with its blocking connection stuck:
 * the process sends heartbeats and counts as ready, and fetches nothing.
 */

/** A gap this long between ticks, with little CPU used in it, is a freeze. */
export const FROZEN_AFTER_MS = 5000;
/** At most this share of the gap spent on CPU: more is this process's own work. */
const MOST_CPU_SHARE = 0.2;
const TICK_MS = 1000;

export function watchForFreeze(onFrozen: (frozenMs: number) => void, { frozenAfterMs = FROZEN_AFTER_MS, tickMs = TICK_MS } = {}) {
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  let lastAt = performance.now();
  let lastCpu = cpuMs();
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = cpuMs();
    const gapMs = now - lastAt;
    const usedMs = cpu - lastCpu;
    lastAt = now;
    lastCpu = cpu;
    if (gapMs - tickMs >= frozenAfterMs && usedMs < gapMs * MOST_CPU_SHARE) onFrozen(Math.round(gapMs - tickMs));
  }, tickMs);
  return { stop: () => clearInterval(timer) };
}
