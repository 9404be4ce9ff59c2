/** Starts the supervisor over this app's worker entry; shared by `bun run worker`, `start` and `dev`. */
import { fileURLToPath } from 'node:url';
import type { Config } from '@sluice/config';
import type { Logger } from '@sluice/observability';
import { Supervisor } from '@sluice/supervisor';

export const WORKER_ENTRY = fileURLToPath(new URL('./child.ts', import.meta.url));

export function startSupervisor(config: Config, log: Logger): Supervisor {
  const supervisor = new Supervisor({
    entry: WORKER_ENTRY,
    count: config.worker.count,
    log: log.child({ component: 'supervisor' }),
    shutdownTimeoutMs: config.worker.shutdownTimeoutMs,
    livenessPolicy: { heartbeatTimeoutMs: config.worker.heartbeatTimeoutMs, heartbeatKillTimeoutMs: config.worker.heartbeatKillTimeoutMs },
  });
  supervisor.start();
  return supervisor;
}
