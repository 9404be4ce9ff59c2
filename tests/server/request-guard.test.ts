/** Writes only from this origin and only as JSON: a page an admin has open cannot post forms to the API (CSRF). */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import pino from 'pino';
import { jobRegistry, type JobRegistry } from '@sluice/jobs';
import { createMetrics } from '@sluice/observability';
import { QueueManager } from '@sluice/queue';
import { createServer, type SluiceServer } from '@sluice/server-app';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { connect } from 'node:net';
import { deletePrefix, spawnServer } from './helpers/server-process.ts';

setDefaultTimeout(30_000);

const prefix = uniquePrefix('guard');
const AUTH = `Basic ${Buffer.from('admin:pw').toString('base64')}`;
let queue: QueueManager<JobRegistry>;
let app: SluiceServer;

beforeAll(async () => {
  const config = testConfig({ QUEUE_PREFIX: prefix, ADMIN_USER: 'admin', ADMIN_PASSWORD: 'pw' });
  queue = await QueueManager.open<JobRegistry>({ config, registry: jobRegistry });
  app = await createServer({ config, queue, metrics: createMetrics({ processMetrics: false }), log: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await queue.close();
  await deletePrefix(prefix);
});

/** A request as a browser with the admin's cached basic credentials would send it. */
function post(path: string, body: string | undefined, headers: Record<string, string>) {
  return app.handle(new Request(`http://localhost${path}`, { method: 'POST', headers: { authorization: AUTH, ...headers }, body }));
}

async function expectRefused(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(((await response.json()) as any).error.code).toBe(code);
}

const jobCount = async () => Object.values(await queue.queue.getJobCounts()).reduce((a, b) => a + b, 0);

describe('cross-site writes', () => {
  test('a form posted from another site is refused with 403 and changes nothing', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' };
    await expectRefused(await post('/api/v1/jobs/queue/pause', '', form), 403, 'CROSS_SITE_REQUEST');
    await expectRefused(await post('/api/v1/jobs', 'type=echo&jobId=csrf1', form), 403, 'CROSS_SITE_REQUEST');
    expect(await queue.queue.isPaused()).toBe(false);
    expect(await jobCount()).toBe(0);
  });

  test('an Origin of another site is refused even without Sec-Fetch-Site (older browsers)', async () => {
    const json = { 'content-type': 'application/json', origin: 'http://localhost.evil.example' };
    await expectRefused(await post('/api/v1/jobs', JSON.stringify({ type: 'echo', data: { message: 'x' } }), json), 403, 'CROSS_SITE_REQUEST');
    expect(await jobCount()).toBe(0);
  });

  test('same-origin pages (the dashboard) and non-browser clients are let through', async () => {
    const body = JSON.stringify({ type: 'echo', data: { message: 'ok' }, delay: 600_000 });
    expect((await post('/api/v1/jobs', body, { 'content-type': 'application/json', origin: 'http://localhost', 'sec-fetch-site': 'same-origin' })).status).toBe(201);
    expect((await post('/api/v1/jobs', body, { 'content-type': 'application/json' })).status).toBe(201);
    // curl -X POST with no body sends no content type.
    expect((await post('/api/v1/jobs/queue/pause', undefined, {})).status).toBe(200);
    expect((await post('/api/v1/jobs/queue/resume', undefined, {})).status).toBe(200);
    expect(await jobCount()).toBe(2);
  });
});

describe('behind a reverse proxy, and DNS rebinding', () => {
  test('a browser write through a TLS proxy (Origin https, server sees http) is let through', async () => {
    const app2 = await createServer({
      config: testConfig({ QUEUE_PREFIX: prefix, ADMIN_USER: 'admin', ADMIN_PASSWORD: 'pw', ALLOWED_HOSTS: 'sluice.example.com' }),
      queue,
      metrics: createMetrics({ processMetrics: false }),
      log: pino({ level: 'silent' }),
    });
    const headers = {
      authorization: AUTH,
      'content-type': 'application/json',
      host: 'sluice.example.com',
      origin: 'https://sluice.example.com',
      'sec-fetch-site': 'same-origin',
    };
    const body = JSON.stringify({ type: 'echo', data: { message: 'via proxy' }, delay: 600_000 });
    const response = await app2.handle(new Request('http://sluice.example.com/api/v1/jobs', { method: 'POST', headers, body }));
    expect(response.status).toBe(201);
    // An older browser without Sec-Fetch-Site: Origin's host is compared, not its scheme.
    const { 'sec-fetch-site': _site, ...older } = headers;
    expect((await app2.handle(new Request('http://sluice.example.com/api/v1/jobs', { method: 'POST', headers: older, body }))).status).toBe(201);
  });

  test('on a loopback server, a Host that is not a loopback name or in ALLOWED_HOSTS is refused, reads included', async () => {
    // What a page on evil.test sends once its DNS points at 127.0.0.1: same-origin to the browser.
    const headers = { authorization: AUTH, host: 'evil.test:3000', origin: 'http://evil.test:3000', 'sec-fetch-site': 'same-origin' };
    await expectRefused(await app.handle(new Request('http://evil.test:3000/api/v1/jobs/history', { headers })), 403, 'HOST_NOT_ALLOWED');
    await expectRefused(await post('/api/v1/jobs/queue/pause', undefined, headers), 403, 'HOST_NOT_ALLOWED');
    // A name that merely starts like a loopback address is still a name.
    await expectRefused(await app.handle(new Request('http://127.0.0.1.evil.test/health', { headers: { host: '127.0.0.1.evil.test' } })), 403, 'HOST_NOT_ALLOWED');
    expect(await queue.queue.isPaused()).toBe(false);
    // A Host no URL can hold is a JSON 400, not an error page.
    const bad = await app.handle(new Request('http://127.0.0.1:3000/health', { headers: { host: '127.0.0.1:evil' } }));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.code).toBe('BAD_HOST');
    // Loopback names are fine.
    expect((await app.handle(new Request('http://127.0.0.1:3000/health', { headers: { host: '127.0.0.1:3000' } }))).status).toBe(200);
    expect((await app.handle(new Request('http://localhost:3000/health', { headers: { host: 'localhost:3000' } }))).status).toBe(200);
  });
});

test('with ALLOWED_HOSTS set, Host is checked whatever the bind address (a container on 0.0.0.0 published on loopback)', async () => {
  const config = testConfig({ QUEUE_PREFIX: prefix, HOST: '0.0.0.0', ALLOWED_HOSTS: 'app' });
  const container = await createServer({ config, queue, metrics: createMetrics({ processMetrics: false }), log: pino({ level: 'silent' }) });
  await expectRefused(await container.handle(new Request('http://evil.test/api/v1/jobs/stats', { headers: { host: 'evil.test' } })), 403, 'HOST_NOT_ALLOWED');
  expect((await container.handle(new Request('http://app:3000/metrics', { headers: { host: 'app:3000' } }))).status).toBe(200);
  expect((await container.handle(new Request('http://localhost:3000/health', { headers: { host: 'localhost:3000' } }))).status).toBe(200);
});

describe('body content types', () => {
  test('form, multipart and plain-text bodies are a 415 naming the content type, and nothing is queued', async () => {
    const before = await jobCount();
    for (const contentType of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const response = await post('/api/v1/jobs', JSON.stringify({ type: 'echo', data: { message: 'x' } }), { 'content-type': contentType });
      expect(response.status).toBe(415);
      const error = ((await response.json()) as any).error;
      expect(error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      expect(error.message).toContain(contentType);
    }
    expect(await jobCount()).toBe(before);
  });

  test('JSON in any case or as a +json type is parsed as JSON', async () => {
    for (const contentType of ['APPLICATION/JSON', 'Application/Json; charset=UTF-8', 'application/vnd.api+json']) {
      const response = await post('/api/v1/jobs', JSON.stringify({ type: 'echo', data: { message: contentType }, delay: 600_000 }), { 'content-type': contentType });
      expect(response.status).toBe(201);
      const { id } = (await response.json()) as { id: string };
      expect((await queue.queue.getJob(id))!.data).toEqual({ data: { message: contentType }, userId: null });
    }
  });

  test('a body with no content-type is a 415 too, and a write with no body at all names the missing field', async () => {
    const before = await jobCount();
    const body = JSON.stringify({ type: 'echo', data: { message: 'untyped' } });
    // `curl -H 'content-type:' -d ...`: read as JSON once the routes declared JSON bodies.
    const untyped = await post('/api/v1/jobs', body, { 'content-length': String(body.length) });
    await expectRefused(untyped, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await jobCount()).toBe(before);
    // Nothing sent, no content-type: the body's first missing field, not "not valid JSON".
    const empty = await post('/api/v1/jobs/queue/clean', undefined, {});
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as any).error).toMatchObject({ code: 'INVALID_BODY', field: 'state' });
  });

  test('malformed JSON under those types is a 400 INVALID_JSON', async () => {
    await expectRefused(await post('/api/v1/jobs', '{"type":', { 'content-type': 'APPLICATION/JSON' }), 400, 'INVALID_JSON');
  });
});

describe('body size', () => {
  test('a body over 1 MiB is a JSON 413 naming the limit, and nothing is queued', async () => {
    const before = await jobCount();
    const body = JSON.stringify({ type: 'echo', data: { message: 'x'.repeat(2 * 1024 * 1024) } });
    const response = await post('/api/v1/jobs', body, { 'content-type': 'application/json', 'content-length': String(body.length) });
    expect(response.status).toBe(413);
    const error = ((await response.json()) as any).error;
    expect(error.code).toBe('BODY_TOO_LARGE');
    expect(error.message).toContain(`request body is ${body.length} bytes; the limit is 1048576`);
    expect(await jobCount()).toBe(before);
  });
});


/** Sends `request` as is over TCP and reads until the server closes the connection. */
function rawRequest(url: string, request: string): Promise<{ statusLine: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let received = '';
    const socket = connect(Number(port), hostname, () => socket.write(request));
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = received.split('\r\n\r\n', 2);
      resolve({ statusLine: head.split('\r\n', 1)[0]!, body });
    });
  });
}

test('HTTP/1.0 probes without a Host header (HAProxy option httpchk) get /health and /ready; other paths are told Host is missing', async () => {
  const server = await spawnServer({ label: 'no-host', env: { WORKER_COUNT: '1', AUDIT_ENABLED: 'false', ADMIN_USER: 'admin', ADMIN_PASSWORD: 'pw' } });
  try {
    const health = await rawRequest(server.url, 'GET /health HTTP/1.0\r\n\r\n');
    expect(health.statusLine).toBe('HTTP/1.1 200 OK');
    expect(JSON.parse(health.body).status).toBe('ok');
    const ready = await rawRequest(server.url, 'GET /ready HTTP/1.0\r\n\r\n');
    expect(ready.statusLine).toBe('HTTP/1.1 200 OK');
    expect(JSON.parse(ready.body).status).toBe('ready');
    // An empty Host is no Host.
    expect((await rawRequest(server.url, 'GET /health HTTP/1.0\r\nHost:\r\n\r\n')).statusLine).toBe('HTTP/1.1 200 OK');
    for (const request of ['GET /api/v1/jobs/stats HTTP/1.0\r\n\r\n', 'GET /health?verbose=1 HTTP/1.0\r\n\r\n', 'POST /api/v1/jobs/queue/pause HTTP/1.0\r\n\r\n']) {
      const refused = await rawRequest(server.url, request);
      expect({ request, statusLine: refused.statusLine }).toEqual({ request, statusLine: 'HTTP/1.1 400 Bad Request' });
      const error = JSON.parse(refused.body).error;
      expect(error.code).toBe('MISSING_HOST');
      expect(error.message).toContain('no Host header');
    }
    expect(((await (await fetch(`${server.url}/api/v1/jobs/health`)).json()) as any).queue.paused).toBe(false);
  } finally {
    await server.stop();
    await deletePrefix(server.prefix);
  }
});
