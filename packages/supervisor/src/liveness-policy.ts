/** Decides, from how long a ready child has been silent, whether it still counts as ready, and when to kill it. */

export interface LivenessPolicy {
  /**
   * A ready child whose last message (children send a heartbeat every second) is older than
   * this counts as unresponsive: stopped (SIGSTOP), or its event loop blocked. Default 10000 ms.
   */
  heartbeatTimeoutMs: number;
  /**
   * An unresponsive child silent this long is killed (SIGKILL) and restarted through the
   * restart policy; 0 never kills. Default 60000 ms.
   */
  heartbeatKillTimeoutMs: number;
}

export const DEFAULT_LIVENESS_POLICY: LivenessPolicy = {
  heartbeatTimeoutMs: 10_000,
  heartbeatKillTimeoutMs: 60_000,
};

export type LivenessVerdict = 'answering' | 'unresponsive' | 'kill';

export function livenessVerdict(silentForMs: number, policy: LivenessPolicy): LivenessVerdict {
  if (policy.heartbeatKillTimeoutMs > 0 && silentForMs > policy.heartbeatKillTimeoutMs) return 'kill';
  return silentForMs > policy.heartbeatTimeoutMs ? 'unresponsive' : 'answering';
}

/** How often the supervisor looks: often enough to notice within half a timeout, at most once a second. */
export function livenessCheckIntervalMs(policy: LivenessPolicy): number {
  return Math.min(1000, Math.floor(policy.heartbeatTimeoutMs / 2));
}
