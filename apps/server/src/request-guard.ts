/**
 * Cross-site request forgery guard and JSON body parsing. A browser sends an admin's cached
 * basic credentials with any form another site submits to this server, and forms can only
 * send url-encoded, multipart or plain-text bodies. So a write (any method but GET, HEAD,
 * OPTIONS) must come from this origin, and a write with a body must be JSON. Applies with or
 * without admin credentials: a development server on localhost is reachable from any page
 * its developer opens.
 */
import { Elysia, ParseError } from 'elysia';
import { refuseHost, type Logger } from '@sluice/observability';
import { InvalidInputError } from './http-errors.ts';
import { MAX_BODY_DEPTH, nestsDeeperThan } from './json-depth.ts';

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The largest request body: 1 MiB. A job's payload is stored in Redis as is (and copied into
 * each of its audit rows, truncated), so it should carry ids and parameters, not files.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/** `application/json`, any case, any parameters, and `application/<something>+json`. */
export function isJsonMediaType(contentType: string | null): boolean {
  const mediaType = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  return mediaType === 'application/json' || (mediaType.startsWith('application/') && mediaType.endsWith('+json'));
}

/** `name[:port]` or `[ipv6][:port]`. */
const HOST_HEADER = /^([a-z0-9._-]+|\[[0-9a-f:.]+\])(:\d{1,5})?$/i;

/**
 * The probes, answered without a Host header. An HTTP/1.0 health check sends none (HAProxy's
 * `option httpchk` by default). The Host check is there against DNS rebinding, which needs a
 * browser, and browsers always send Host: a request without one is no such attack. But Bun
 * then gives the request a path-only URL (`/health`), which Elysia routes only for fixed paths
 * without a query, so only the probes are let through; anything else is told what is missing.
 */
const ANSWERED_WITHOUT_HOST = new Set(['/health', '/ready']);

/** The request's path; also for the path-only URL of a request without a Host header. */
export function requestPath(request: Request): string | undefined {
  if (request.url.startsWith('/')) return request.url.split('?', 1)[0];
  return URL.parse(request.url)?.pathname;
}

/** Why a write must be refused, or null. */
export function refuseWrite(request: Request): { status: 403 | 413 | 415; code: string; message: string } | null {
  if (READ_METHODS.has(request.method)) return null;
  // Sent by every current browser, and decisive where present; `none` is a typed URL or a non-browser client.
  const site = request.headers.get('sec-fetch-site');
  const origin = request.headers.get('origin');
  // Without it (an older browser), Origin's host must be the one the request was sent to. The scheme
  // is not compared: behind a TLS-terminating proxy the browser says https and this server sees http.
  const sentTo = request.headers.get('x-forwarded-host') ?? request.headers.get('host');
  const crossSite = site !== null ? site !== 'same-origin' && site !== 'none' : origin !== null && originHost(origin) !== sentTo;
  if (crossSite) {
    return {
      status: 403,
      code: 'CROSS_SITE_REQUEST',
      message: `writes are accepted only from this server's own origin, not from ${origin ?? `a ${site} page`}`,
    };
  }
  const length = Number(request.headers.get('content-length') ?? 0);
  if (length > MAX_BODY_BYTES) {
    return {
      status: 413,
      code: 'BODY_TOO_LARGE',
      message: `request body is ${length} bytes; the limit is ${MAX_BODY_BYTES} (1 MiB): put large data elsewhere and pass a reference`,
    };
  }
  const contentType = request.headers.get('content-type');
  // A body without a content type would be read as JSON all the same: say what it must be.
  const hasBody = length > 0 || request.headers.has('transfer-encoding');
  if (contentType === null && hasBody) {
    return {
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'request bodies must be JSON (content-type: application/json), and this one has no content-type',
    };
  }
  if (contentType !== null && !isJsonMediaType(contentType)) {
    return {
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: `request bodies must be JSON (content-type: application/json), got "${contentType.slice(0, 100)}"`,
    };
  }
  return null;
}

function originHost(origin: string): string | null {
  try {
    return new URL(origin).host;
  } catch {
    return null;
  }
}

export function createRequestGuard({ log, boundHost, allowedHosts }: { log: Logger; boundHost: string; allowedHosts: readonly string[] }) {
  return new Elysia({ name: 'request-guard' })
    .onRequest(({ request }) => {
      const host = request.headers.get('host');
      const path = requestPath(request);
      // Bun gives a path-only URL when the request had no (or an empty) Host header.
      if (request.url.startsWith('/') && !ANSWERED_WITHOUT_HOST.has(request.url)) {
        const message = `the request has no Host header (an HTTP/1.0 request?); send one, e.g. Host: localhost. Only ${[...ANSWERED_WITHOUT_HOST].join(' and ')} answer without it`;
        return Response.json({ error: { code: 'MISSING_HOST', message } }, { status: 400 });
      }
      // A Host header no URL can hold (`127.0.0.1:evil`): every later hook would throw on it.
      if ((host && !HOST_HEADER.test(host)) || path === undefined) {
        return Response.json({ error: { code: 'BAD_HOST', message: 'the Host header is not a valid host[:port]' } }, { status: 400 });
      }
      const hostRefusal = refuseHost(request, boundHost, allowedHosts);
      const refusal = hostRefusal ?? refuseWrite(request);
      if (!refusal) return;
      log.warn({ method: request.method, path, code: refusal.code }, hostRefusal ? 'request refused: host not allowed' : 'write refused');
      return Response.json({ error: { code: refusal.code, message: refusal.message } }, { status: refusal.status });
    })
    .onParse({ as: 'global' }, async ({ request, contentType }) => {
      // No content type: the write has no body (one with a body was refused above), which
      // reads as an empty object, so a missing field is named rather than "not valid JSON".
      if (!contentType) return {};
      // Elysia's own parser only knows the exact lower-case `application/json`.
      if (!isJsonMediaType(contentType)) return;
      const text = await request.text();
      if (text.trim() === '') return {};
      if (nestsDeeperThan(text, MAX_BODY_DEPTH)) {
        throw new InvalidInputError('body', `the body nests objects and arrays deeper than ${MAX_BODY_DEPTH} levels (a job's data may nest ${MAX_BODY_DEPTH - 1})`, 'body');
      }
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new ParseError(error as Error);
      }
    });
}
