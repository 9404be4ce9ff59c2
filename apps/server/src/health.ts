/** GET /health (liveness: the process answers) and GET /ready (Redis, database and a worker process are up). */
import { Elysia } from 'elysia';
import type { QueueManager } from '@sluice/queue';
import { checkRedis } from '@sluice/queue';
import type { JobRegistry } from '@sluice/jobs';
import type { WorkerSample } from '@sluice/observability';

type Status = 'up' | 'down';
type DatabaseStatus = Status | 'disabled';

export interface ReadinessDeps {
  queue: QueueManager<JobRegistry>;
  /** The supervisor of this process; without one no worker counts as up here. */
  workers?: () => readonly WorkerSample[];
  /** Resolves when the audit database answers; rejects otherwise. Absent with auditing switched off. */
  pingDatabase?: () => Promise<unknown>;
  /** False when auditing is off (AUDIT_ENABLED=false): the database is then not a readiness condition. */
  auditEnabled: boolean;
  /** Each check gives up after this long, so a hung dependency cannot hang the probe. Default 2000. */
  checkTimeoutMs?: number;
}

export interface Readiness {
  ready: boolean;
  checks: {
    redis: { status: Status; latencyMs: number | null; error?: string };
    database: { status: DatabaseStatus; latencyMs: number | null; error?: string };
    workers: { status: Status; up: number; total: number };
  };
}

async function timed(run: () => Promise<unknown>, timeoutMs: number): Promise<{ status: Status; latencyMs: number | null; error?: string }> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { status: 'up', latencyMs: Math.round((performance.now() - started) * 100) / 100 };
  } catch (error) {
    return { status: 'down', latencyMs: null, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

export async function checkReadiness({ queue, workers, pingDatabase, auditEnabled, checkTimeoutMs = 2000 }: ReadinessDeps): Promise<Readiness> {
  const database = async (): Promise<Readiness['checks']['database']> => {
    if (!auditEnabled) return { status: 'disabled', latencyMs: null };
    if (!pingDatabase) return { status: 'down', latencyMs: null, error: 'this server has no audit database' };
    return timed(pingDatabase, checkTimeoutMs);
  };
  const [redis, db] = await Promise.all([checkRedis(queue.connection, checkTimeoutMs), database()]);
  const processes = workers?.() ?? [];
  const up = processes.filter((w) => w.state === 'ready').length;
  const checks: Readiness['checks'] = {
    redis,
    database: db,
    workers: { status: up > 0 ? 'up' : 'down', up, total: processes.length },
  };
  return { ready: Object.values(checks).every((c) => c.status === 'up' || c.status === 'disabled'), checks };
}

export function createHealthRoutes(deps: ReadinessDeps) {
  const startedAt = Date.now();
  return new Elysia({ name: 'health' })
    .get('/health', () => ({ status: 'ok', uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }), {
      detail: { summary: 'Liveness: the process is up (never touches Redis or the database)', tags: ['health'] },
    })
    .get(
      '/ready',
      async ({ set }) => {
        const { ready, checks } = await checkReadiness(deps);
        set.status = ready ? 200 : 503;
        return { status: ready ? 'ready' : 'not_ready', checks };
      },
      { detail: { summary: 'Readiness: Redis and the audit database answer and at least one worker process is up', tags: ['health'] } },
    );
}
