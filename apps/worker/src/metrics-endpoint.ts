/**
 * /metrics for a worker-only host (`bun run worker` with METRICS_PORT). Such a host runs
 * an audit writer of its own and counts the executions it writes; Prometheus scrapes every
 * host and sums. No auth: bind HOST to a private address. Bound to loopback (or with
 * ALLOWED_HOSTS set) it answers only to the names the server does, against DNS rebinding.
 */
import { refuseHost, type Metrics } from '@sluice/observability';

export function serveMetrics(metrics: Metrics, hostname: string, port: number, allowedHosts: readonly string[] = []) {
  return Bun.serve({
    hostname,
    port,
    async fetch(request) {
      const refusal = refuseHost(request, hostname, allowedHosts);
      if (refusal) return Response.json({ error: { code: refusal.code, message: refusal.message } }, { status: refusal.status });
      // A request without a Host header (an HTTP/1.0 probe) gets a path-only URL from Bun.
      const pathname = request.url.startsWith('/') ? request.url.split('?', 1)[0]! : (URL.parse(request.url)?.pathname ?? '/');
      if (pathname === '/metrics') return new Response(await metrics.render(), { headers: { 'content-type': metrics.contentType } });
      if (pathname === '/health') return Response.json({ status: 'ok' });
      return Response.json({ error: { code: 'NOT_FOUND', message: `no route ${pathname}; try /metrics` } }, { status: 404 });
    },
  });
}
