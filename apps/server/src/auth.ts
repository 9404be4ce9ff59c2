/**
 * Admin authentication: HTTP basic (ADMIN_USER/ADMIN_PASSWORD) or a bearer token (ADMIN_TOKEN),
 * compared in constant time. One path policy decides what is guarded, so no route can forget it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Elysia } from 'elysia';
import type { Config } from '@sluice/config';
import type { Logger } from '@sluice/observability';
import { UnauthorizedError } from './http-errors.ts';
import { requestPath } from './request-guard.ts';

/** Raised at start-up in production when no admin credentials are configured. */
export class MissingAdminCredentialsError extends Error {
  override name = 'MissingAdminCredentialsError';
  readonly code = 'ADMIN_CREDENTIALS_REQUIRED';
  constructor() {
    super(
      'Refusing to start with NODE_ENV=production and no admin credentials: the dashboard and every mutating API route would be open. ' +
        'Set ADMIN_USER and ADMIN_PASSWORD (HTTP basic auth) and/or ADMIN_TOKEN (bearer token).',
    );
  }
}

export function hasAdminCredentials(config: Config): boolean {
  return (config.admin.user !== undefined && config.admin.password !== undefined) || config.admin.token !== undefined;
}

/** Throws MissingAdminCredentialsError when production would run unguarded. */
export function assertProductionCredentials(config: Config): void {
  if (config.env === 'production' && !hasAdminCredentials(config)) throw new MissingAdminCredentialsError();
}

/** Probes must answer without credentials. */
const ALWAYS_OPEN = new Set(['/health', '/ready']);
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** `admin` when the request needs credentials (given some are configured). */
export function accessFor(method: string, path: string, guardReads: boolean): 'open' | 'admin' {
  // The router serves `/health/` as `/health`: a probe configured with the slash must not get a 401.
  if (ALWAYS_OPEN.has(path.endsWith('/') ? path.slice(0, -1) : path)) return 'open';
  if (path === '/admin/queues' || path.startsWith('/admin/queues/')) return 'admin';
  if (!READ_METHODS.has(method)) return 'admin';
  return guardReads ? 'admin' : 'open';
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Equal-length digests make timingSafeEqual safe to call whatever the input length. */
function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

export interface AdminAuthOptions {
  config: Config;
  log: Logger;
}

export type AuthOutcome = 'ok' | 'missing' | 'invalid';

/** The schemes a failed login may be logged with. */
const KNOWN_SCHEMES = new Set(['basic', 'bearer']);

/**
 * The scheme of a failed login, fit for the log: `basic`, `bearer`, or `unknown`. Only a name
 * from a fixed list: without a scheme (`Authorization: tok123`), with a tab after it or with
 * `Basic:<base64>`, the text before the first space is the secret itself.
 */
export function schemeForLog(authorization: string): 'basic' | 'bearer' | 'unknown' {
  const space = authorization.indexOf(' ');
  const scheme = space > 0 ? authorization.slice(0, space).toLowerCase() : '';
  return KNOWN_SCHEMES.has(scheme) ? (scheme as 'basic' | 'bearer') : 'unknown';
}

export function createCredentialCheck(config: Config): (authorization: string | null) => AuthOutcome {
  const { user, password, token } = config.admin;
  const expected = {
    user: user === undefined ? null : digest(user),
    password: password === undefined ? null : digest(password),
    token: token === undefined ? null : digest(token),
  };
  return (authorization) => {
    if (!authorization) return 'missing';
    const space = authorization.indexOf(' ');
    const scheme = authorization.slice(0, space).toLowerCase();
    const value = authorization.slice(space + 1).trim();
    if (scheme === 'bearer' && expected.token) return sameSecret(value, expected.token) ? 'ok' : 'invalid';
    if (scheme === 'basic' && expected.user && expected.password) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return 'invalid';
      // Compare both halves every time, so timing does not reveal which one was wrong.
      const userOk = sameSecret(decoded.slice(0, colon), expected.user);
      const passwordOk = sameSecret(decoded.slice(colon + 1), expected.password);
      return userOk && passwordOk ? 'ok' : 'invalid';
    }
    return 'invalid';
  };
}

/** Guards requests per `accessFor`; open everywhere when no credentials are configured (development). */
export function createAdminAuth({ config, log }: AdminAuthOptions) {
  const plugin = new Elysia({ name: 'admin-auth' });
  if (!hasAdminCredentials(config)) return plugin;

  const check = createCredentialCheck(config);
  const challenge = config.admin.user !== undefined ? 'Basic realm="sluice", charset="UTF-8"' : 'Bearer realm="sluice"';
  const unauthorized = new UnauthorizedError();
  const body = JSON.stringify({ error: { code: unauthorized.code, message: unauthorized.message } });

  // onRequest runs before routing for every request of the app this is used in, so
  // Bull Board's own routes and static files are covered too.
  return plugin.onRequest(({ request, server }) => {
    // The request guard let in only requests with a path.
    const path = requestPath(request)!;
    if (accessFor(request.method, path, config.admin.guardReads) === 'open') return;
    const authorization = request.headers.get('authorization');
    const outcome = check(authorization);
    if (outcome === 'ok') return;
    if (outcome === 'invalid') {
      // Never log the header itself: it carries the submitted secret.
      const scheme = schemeForLog(authorization ?? '');
      log.warn({ method: request.method, path, scheme, ip: server?.requestIP(request)?.address ?? null }, 'admin authentication failed');
    }
    return new Response(body, {
      status: 401,
      headers: { 'content-type': 'application/json', 'www-authenticate': challenge },
    });
  });
}
