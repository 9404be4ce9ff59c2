/**
 * Which signals stop a Sluice process. SIGTERM and SIGINT always do, gracefully. SIGHUP (the
 * terminal closed) does too, with two exceptions, in both of which it is ignored:
 * - the process started with SIGHUP ignored (`nohup bun apps/server/src/main.ts &`): it was
 *   asked to outlive its terminal. Read from /proc, so Linux only. (`bun run` cannot pass
 *   this on: the package runner catches SIGHUP and forwards it to the script, nohup or not.)
 * - a parent manages it over IPC (the supervisor's workers, the app under `bun run dev`): the
 *   hangup reaches that parent as well, and the parent decides whether its children stop.
 *   Without a handler, SIGHUP's default action would kill jobs mid-run.
 */
import { readFileSync } from 'node:fs';

/**
 * Whether SIGHUP was ignored when this module loaded, before any handler of ours replaced the
 * disposition: signal 1 is the lowest bit of /proc/self/status's SigIgn mask.
 */
function hangupIgnoredAtStart(): boolean {
  try {
    const mask = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return mask !== undefined && (BigInt(`0x${mask}`) & 1n) === 1n;
  } catch {
    return false;
  }
}

const startedWithHangupIgnored = hangupIgnoredAtStart();

/** Why SIGHUP does not stop this process, or null when it does. */
export function hangupPolicy(): 'nohup' | 'parent' | null {
  if (startedWithHangupIgnored) return 'nohup';
  if (process.send) return 'parent';
  return null;
}

/**
 * Calls `stop` on SIGTERM and SIGINT, and on SIGHUP unless `hangupPolicy()` says otherwise;
 * then a SIGHUP calls `ignoredHangup` instead (to log it), and never terminates the process.
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void, ignoredHangup?: (why: 'nohup' | 'parent') => void): void {
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const policy = hangupPolicy();
  process.on('SIGHUP', () => (policy === null ? stop('SIGHUP') : ignoredHangup?.(policy)));
}
