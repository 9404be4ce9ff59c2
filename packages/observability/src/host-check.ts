/**
 * The Host check every Sluice HTTP endpoint makes against DNS rebinding: the server's
 * (apps/server request-guard) and a worker host's /metrics (METRICS_PORT).
 */

/** Host names a server bound to loopback answers to. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
// The whole 127/8 block, as an address: `127.attacker.example` is a name, not loopback.
const isLoopback = (host: string) => LOOPBACK_NAMES.has(host) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/**
 * A server bound to loopback (the development default) is reachable only from this
 * machine, but a page whose domain an attacker re-points at 127.0.0.1 (DNS rebinding) is
 * same-origin to the browser. Such a request still names the attacker's domain in `Host`:
 * refuse every request, reads included, whose Host is not a loopback name or one of
 * `allowedHosts` (ALLOWED_HOSTS: the public name a reverse proxy on this machine forwards).
 * Set, ALLOWED_HOSTS applies whatever the bind address: a container binds 0.0.0.0 while
 * its port is published on the host's loopback only.
 */
export function refuseHost(request: Request, boundHost: string, allowedHosts: readonly string[]): { status: 403; code: string; message: string } | null {
  if ((!isLoopback(boundHost) && allowedHosts.length === 0) || allowedHosts.includes('*')) return null;
  const host = (request.headers.get('host') ?? '').replace(/:\d+$/, '').toLowerCase();
  if (host === '' || isLoopback(host) || allowedHosts.includes(host)) return null;
  return {
    status: 403,
    code: 'HOST_NOT_ALLOWED',
    message: `this server listens on ${boundHost} and answers to loopback names and ALLOWED_HOSTS only, not "${host.slice(0, 100)}"`,
  };
}
