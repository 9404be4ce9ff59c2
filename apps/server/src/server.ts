/** Composes the server from its feature modules. Listening, signals and start-up order live in main.ts. */
import { Elysia } from 'elysia';
import { openapi } from '@elysiajs/openapi';
import { createAdminAuth } from './auth.ts';
import { createDashboard } from './dashboard.ts';
import type { ServerDeps } from './deps.ts';
import { createErrorHandler } from './error-handler.ts';
import { createFrameGuard } from './frame-guard.ts';
import { createHealthRoutes } from './health.ts';
import { createMetricsRoute } from './metrics.ts';
import { createJobReportRoutes } from './routes/job-reports.ts';
import { createJobRoutes } from './routes/jobs.ts';
import { createRequestGuard } from './request-guard.ts';
import { createQueueActionRoutes } from './routes/queue-actions.ts';
import { createScheduleRoutes } from './routes/schedules.ts';

export type { ServerDeps } from './deps.ts';

export async function createServer(deps: ServerDeps) {
  const { config, queue, supervisor, audit, auditProblem, metrics, log } = deps;
  const dashboard = await createDashboard({ queue, log });

  return (
    // normalize: false makes `additionalProperties: false` reject unknown fields (a typo like
    // `delayMs`) instead of silently dropping them.
    new Elysia({ name: 'sluice-server', normalize: false })
      // Order matters: errors and auth hooks must be in place before the routes they cover.
      .use(createFrameGuard())
      .use(createErrorHandler({ log, redisReady: () => queue.connection.status === 'ready', redisUrl: config.redis.url }))
      // The request guard first: it turns away malformed and foreign Host headers before anything parses them.
      .use(createRequestGuard({ log, boundHost: config.server.host, allowedHosts: config.server.allowedHosts }))
      .use(createAdminAuth({ config, log }))
      .use(
        openapi({
          path: '/docs',
          documentation: {
            info: { title: 'Sluice jobs API', version: '1', description: 'Submit, inspect and control background jobs.' },
            components: {
              securitySchemes: { basic: { type: 'http', scheme: 'basic' }, bearer: { type: 'http', scheme: 'bearer' } },
            },
          },
        }),
      )
      .use(
        createHealthRoutes({
          queue,
          workers: supervisor ? () => supervisor.snapshot() : undefined,
          auditEnabled: config.audit.enabled,
          pingDatabase: audit
            ? async () => {
                // The readiness check has its own 2 s limit; the store's 1 s default would cut it short.
                const health = await audit.ping(2000);
                if (health.status !== 'up') throw new Error(health.error ?? 'database down');
                // It answers a read, yet rows may not be getting in (a role refused its inserts or the migrations).
                const problem = auditProblem?.();
                if (problem) throw new Error(problem);
              }
            : undefined,
        }),
      )
      .use(createMetricsRoute(metrics))
      .use(dashboard)
      .use(createJobReportRoutes({ queue, audit, supervisor }))
      .use(createQueueActionRoutes({ queue, log }))
      .use(createScheduleRoutes({ queue, log }))
      .use(createJobRoutes({ queue, audit, log }))
  );
}

export type SluiceServer = Awaited<ReturnType<typeof createServer>>;
