/** GET /metrics: the server's Prometheus registry in text format. */
import { Elysia } from 'elysia';
import type { Metrics } from '@sluice/observability';

export function createMetricsRoute(metrics: Metrics) {
  return new Elysia({ name: 'metrics' }).get(
    '/metrics',
    async () => new Response(await metrics.render(), { headers: { 'content-type': metrics.contentType } }),
    { detail: { summary: 'Prometheus metrics (text exposition format)', tags: ['metrics'] } },
  );
}
