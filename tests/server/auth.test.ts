/** Admin auth: what is guarded, basic and bearer credentials, failed logins logged without secrets, production refusal. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import pino from 'pino';
import type { Config } from '@sluice/config';
import { jobRegistry, type JobRegistry } from '@sluice/jobs';
import { createMetrics } from '@sluice/observability';
import { QueueManager } from '@sluice/queue';
import { accessFor, createServer, type SluiceServer } from '@sluice/server-app';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { deletePrefix, REPO_ROOT, SERVER_MAIN, spawnServer } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(30_000);

const prefix = uniquePrefix('auth');
const USER = 'admin';
const PASSWORD = 'correct horse battery staple';
const TOKEN = 'tok-3f9a2c1b';
let queue: QueueManager<JobRegistry>;

beforeAll(async () => {
  queue = await QueueManager.open<JobRegistry>({ config: testConfig({ QUEUE_PREFIX: prefix }), registry: jobRegistry });
});
afterAll(async () => {
  await queue.close();
  await deletePrefix(prefix);
});

/** A server over the real queue, with its log lines captured. */
async function serverWith(env: Record<string, string>): Promise<{ app: SluiceServer; logs: string[]; config: Config }> {
  const config = testConfig({ QUEUE_PREFIX: prefix, ...env });
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const app = await createServer({ config, queue, metrics: createMetrics({ processMetrics: false }), log });
  return { app, logs, config };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function call(app: SluiceServer, method: string, path: string, authorization?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization) headers.authorization = authorization;
  const body = method === 'POST' && path === '/api/v1/jobs' ? JSON.stringify({ type: 'echo', data: { message: 'auth' }, delay: 600_000 }) : undefined;
  return app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
}

describe('accessFor', () => {
  test('probes are open, the dashboard and writes are guarded, reads follow ADMIN_GUARD_READS', () => {
    expect(accessFor('GET', '/health', true)).toBe('open');
    expect(accessFor('GET', '/ready', true)).toBe('open');
    expect(accessFor('GET', '/admin/queues', false)).toBe('admin');
    expect(accessFor('GET', '/admin/queues/static/js/main.js', false)).toBe('admin');
    expect(accessFor('PUT', '/admin/queues/api/queues/jobs/retry/failed', false)).toBe('admin');
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) expect(accessFor(method, '/api/v1/jobs/x', false)).toBe('admin');
    expect(accessFor('GET', '/api/v1/jobs/stats', false)).toBe('open');
    expect(accessFor('GET', '/metrics', false)).toBe('open');
    expect(accessFor('GET', '/api/v1/jobs/stats', true)).toBe('admin');
    expect(accessFor('GET', '/metrics', true)).toBe('admin');
  });
});

describe('with ADMIN_USER/ADMIN_PASSWORD and ADMIN_TOKEN', () => {
  let app: SluiceServer;
  let logs: string[];

  beforeAll(async () => {
    ({ app, logs } = await serverWith({ ADMIN_USER: USER, ADMIN_PASSWORD: PASSWORD, ADMIN_TOKEN: TOKEN }));
  });

  test('a mutating route without credentials is a 401 with a basic-auth challenge', async () => {
    const response = await call(app, 'POST', '/api/v1/jobs');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toStartWith('Basic realm="sluice"');
    expect(((await response.json()) as any).error.code).toBe('UNAUTHORIZED');
  });

  test('correct basic credentials or the bearer token are let through', async () => {
    expect((await call(app, 'POST', '/api/v1/jobs', basic(USER, PASSWORD))).status).toBe(201);
    expect((await call(app, 'POST', '/api/v1/jobs', `Bearer ${TOKEN}`)).status).toBe(201);
    expect((await call(app, 'POST', '/api/v1/jobs', `bearer ${TOKEN}`)).status).toBe(201);
  });

  test('wrong credentials are a 401, and the failure is logged without the submitted secret', async () => {
    const wrongPassword = 'not-the-password-5521';
    const wrongToken = 'not-the-token-7781';
    expect((await call(app, 'POST', '/api/v1/jobs', basic(USER, wrongPassword))).status).toBe(401);
    expect((await call(app, 'POST', '/api/v1/jobs', basic('root', PASSWORD))).status).toBe(401);
    expect((await call(app, 'POST', '/api/v1/jobs', `Bearer ${wrongToken}`)).status).toBe(401);
    expect((await call(app, 'POST', '/api/v1/jobs', 'Basic !!!not-base64')).status).toBe(401);
    const failures = logs.filter((line) => line.includes('admin authentication failed'));
    expect(failures.length).toBeGreaterThanOrEqual(4);
    expect(failures.map((line) => JSON.parse(line).scheme)).toEqual(expect.arrayContaining(['basic', 'bearer']));
    const all = logs.join('\n');
    for (const secret of [wrongPassword, wrongToken, PASSWORD, TOKEN, Buffer.from(`${USER}:${wrongPassword}`).toString('base64')]) {
      expect(all).not.toContain(secret);
    }
  });

  test('the dashboard, its assets and its API are guarded', async () => {
    expect((await call(app, 'GET', '/admin/queues')).status).toBe(401);
    expect((await call(app, 'GET', '/admin/queues/api/queues')).status).toBe(401);
    const page = await call(app, 'GET', '/admin/queues', basic(USER, PASSWORD));
    expect(page.status).toBe(200);
    const html = await page.text();
    // Assets are relative to <base href="/admin/queues/">.
    const script = /src="(static\/js\/[^"]+)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    expect((await call(app, 'GET', `/admin/queues/${script}`)).status).toBe(401);
    expect((await call(app, 'GET', `/admin/queues/${script}`, basic(USER, PASSWORD))).status).toBe(200);
  });

  test('reads, /metrics and the probes stay open while ADMIN_GUARD_READS is false', async () => {
    for (const path of ['/api/v1/jobs/stats', '/api/v1/jobs/schedules', '/metrics', '/health', '/docs/json']) {
      expect({ path, status: (await call(app, 'GET', path)).status }).toEqual({ path, status: 200 });
    }
  });
});

test("a malformed Authorization header never reaches the server's log, only a known scheme name", async () => {
  const server = await spawnServer({ label: 'auth-log', env: { WORKER_COUNT: '1', AUDIT_ENABLED: 'false', ADMIN_USER: USER, ADMIN_PASSWORD: PASSWORD, ADMIN_TOKEN: TOKEN } });
  try {
    const secret = 'Tok-5e1f0a9c';
    const encoded = Buffer.from(`${USER}:${secret}`).toString('base64');
    // No scheme, a tab instead of the space, a colon instead of the space, an unknown scheme, and well-formed wrong ones.
    const headers = [secret, `Bearer\t${secret}`, `Basic:${encoded}`, `Token ${secret}`, `Bearer ${secret}`, `Basic ${encoded}`];
    for (const authorization of headers) {
      const response = await fetch(`${server.url}/api/v1/jobs/queue/pause`, { method: 'POST', headers: { authorization } });
      expect({ authorization, status: response.status }).toEqual({ authorization, status: 401 });
    }
    const failures = () => server.logs().filter((line) => line.msg === 'admin authentication failed');
    await waitUntil('every failed login to be logged', async () => failures().length === headers.length);
    expect(failures().map((line) => line.scheme)).toEqual(['unknown', 'unknown', 'unknown', 'unknown', 'bearer', 'basic']);
    const output = server.output();
    for (const leak of [secret, secret.toLowerCase(), encoded, encoded.toLowerCase()]) expect(output).not.toContain(leak);
  } finally {
    await server.stop();
    await deletePrefix(server.prefix);
  }
});

describe('with ADMIN_GUARD_READS=true and only a token', () => {
  let app: SluiceServer;

  beforeAll(async () => {
    ({ app } = await serverWith({ ADMIN_TOKEN: TOKEN, ADMIN_GUARD_READS: 'true' }));
  });

  test('reads and /metrics need the token too, with a bearer challenge', async () => {
    for (const path of ['/api/v1/jobs/stats', '/metrics', '/api/v1/jobs/history']) {
      const denied = await call(app, 'GET', path);
      expect({ path, status: denied.status }).toEqual({ path, status: 401 });
      expect(denied.headers.get('www-authenticate')).toStartWith('Bearer');
    }
    expect((await call(app, 'GET', '/api/v1/jobs/stats', `Bearer ${TOKEN}`)).status).toBe(200);
    expect((await call(app, 'GET', '/metrics', `Bearer ${TOKEN}`)).status).toBe(200);
  });

  test('basic credentials are refused when only a token is configured', async () => {
    expect((await call(app, 'GET', '/metrics', basic(USER, TOKEN))).status).toBe(401);
  });

  test('the probes stay open, with or without a trailing slash', async () => {
    // Before: `/health/` and `/ready/` (which the router serves as the probes) answered 401.
    const statuses = async (paths: string[]) => Promise.all(paths.map(async (path) => `${path} ${(await call(app, 'GET', path)).status}`));
    expect(await statuses(['/health', '/health/'])).toEqual(['/health 200', '/health/ 200']);
    // Readiness itself depends on the workers (none run here): the slash must not change the answer.
    const ready = (await call(app, 'GET', '/ready')).status;
    expect(ready).not.toBe(401);
    expect(await statuses(['/ready/'])).toEqual([`/ready/ ${ready}`]);
    expect(await statuses(['/health/x', '/healthz'])).toEqual(['/health/x 401', '/healthz 401']);
  });
});

describe('without credentials', () => {
  test('outside production everything is open (development)', async () => {
    const { app } = await serverWith({ NODE_ENV: 'development' });
    expect((await call(app, 'POST', '/api/v1/jobs')).status).toBe(201);
    expect((await call(app, 'GET', '/admin/queues')).status).toBe(200);
  });

  test('with NODE_ENV=production the server refuses to start and names the variables to set', async () => {
    const env = testEnv({ NODE_ENV: 'production', QUEUE_PREFIX: prefix, PORT: '0' });
    for (const name of ['ADMIN_USER', 'ADMIN_PASSWORD', 'ADMIN_TOKEN']) delete env[name];
    const proc = Bun.spawn([process.execPath, SERVER_MAIN], { cwd: REPO_ROOT, env, stdout: 'pipe', stderr: 'pipe' });
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    expect(code).toBe(1);
    expect(stderr).toContain('NODE_ENV=production');
    for (const name of ['ADMIN_USER', 'ADMIN_PASSWORD', 'ADMIN_TOKEN']) expect(stderr).toContain(name);
  });
});
