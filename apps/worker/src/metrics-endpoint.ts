/**
 * /metrics for a worker-only host (`bun run worker` with METRICS_PORT). Such a host runs
 * an audit writer of its own and counts the executions it writes; Prometheus scrapes every
 * host and sums. No auth: bind HOST to a private address.
 */
import type { Metrics } from '@sluice/observability';

export function serveMetrics(metrics: Metrics, hostname: string, port: number) {
  return Bun.serve({
    hostname,
    port,
    async fetch(request) {
      const { pathname } = new URL(request.url);
      if (pathname === '/metrics') return new Response(await metrics.render(), { headers: { 'content-type': metrics.contentType } });
      if (pathname === '/health') return Response.json({ status: 'ok' });
      return Response.json({ error: { code: 'NOT_FOUND', message: `no route ${pathname}; try /metrics` } }, { status: 404 });
    },
  });
}
