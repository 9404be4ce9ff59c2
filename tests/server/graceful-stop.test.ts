/** SIGTERM on a production-mode server: HTTP stops first, the running job finishes, its audit row is flushed, exit 0. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuditStore } from '@sluice/db';
import { ensureRedis } from '../../scripts/infra/redis.ts';
import { testConfig } from '../helpers/env.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.ts';
import { deletePrefix, REPO_ROOT, SERVER_HOOK_TIMEOUT_MS, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(60_000);

const TOKEN = 'graceful-token';
let db: TestDatabase;
let server: ServerProcess;

beforeAll(async () => {
  db = await createTestDatabase('graceful');
  // What `bun run start` runs: NODE_ENV=production, so credentials are required.
  server = await spawnServer({
    label: 'graceful',
    authorization: `Bearer ${TOKEN}`,
    env: { NODE_ENV: 'production', ADMIN_TOKEN: TOKEN, ...db.env, WORKER_COUNT: '1', WORKER_SHUTDOWN_TIMEOUT: '20000' },
  });
}, SERVER_HOOK_TIMEOUT_MS);

afterAll(async () => {
  await server?.stop('SIGKILL');
  await deletePrefix(server?.prefix ?? 'none');
  await db?.drop();
});

test('a second server on the same port exits 1 naming the port, before forking any worker', async () => {
  // Elysia's default reusePort let a second server share the port and take half its requests.
  const second = Bun.spawn([process.execPath, 'apps/server/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...server.env, AUDIT_ENABLED: 'false', LOG_LEVEL: 'debug' },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(second.stdout).text(), new Response(second.stderr).text(), second.exited]);
  expect(code).toBe(1);
  expect(stderr).toBe(`sluice server: cannot listen on 127.0.0.1:${new URL(server.url).port} (the port is in use): set PORT to a free port, or HOST to an address of this machine\n`);
  expect(stdout).not.toContain('supervisor');
  expect((await server.request('/health')).status).toBe(200);
});

test('SIGTERM while a request is still being read: the workers are told to stop at once, not after it', async () => {
  const slowServer = await spawnServer({ label: 'graceful-slow', env: { AUDIT_ENABLED: 'false', WORKER_COUNT: '1' } });
  try {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode('{"type":"echo",'));
        await held;
        controller.enqueue(encoder.encode('"data":{"message":"slow upload"}}'));
        controller.close();
      },
    });
    const upload = fetch(`${slowServer.url}/api/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.status, () => null);
    // Time for its headers to reach the server: nothing the server shows marks a request it is still reading.
    await Bun.sleep(300);
    const stopped = slowServer.stop('SIGTERM');
    // Before: the workers kept taking jobs until the request ended, or for HTTP_DRAIN_MS (5 s).
    await waitUntil('the workers to be told to stop', () => slowServer.logs().some((line) => line.msg === 'supervisor stopping: workers finish active jobs'), 3000);
    release();
    await upload;
    expect(await stopped).toBe(0);
  } finally {
    await slowServer.stop('SIGKILL').catch(() => {});
    await deletePrefix(slowServer.prefix);
  }
});

test('SIGTERM: stop accepting requests, drain the running job, flush its audit row, exit 0', async () => {
  const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'finish me', sleepMs: 2500 } } });
  expect(submitted.status).toBe(201);
  const { id } = (await submitted.json()) as { id: string };
  await waitUntil('the job to be running', async () => ((await (await server.request(`/api/v1/jobs/${id}`)).json()) as any).state === 'active');

  let exited = false;
  void server.exited.then(() => (exited = true));
  const stopped = server.stop('SIGTERM');

  // The listener closes while the job is still running, so the process is still up.
  await waitUntil('the server to refuse connections', async () => {
    const refused = await fetch(`${server.url}/health`).then(() => false, () => true);
    return refused;
  }, 10_000, 20);
  expect(exited).toBe(false);

  expect(await stopped).toBe(0);
  // Read once the server has exited: an embedded store (PGlite, where no Postgres runs) has one owner at a time.
  const store = await openAuditStore(testConfig(db.env));
  try {
    const [row] = (await store.getJobHistory({ jobId: id })).rows;
    expect({ status: row?.status, jobId: row?.jobId }).toEqual({ status: 'completed', jobId: id });
  } finally {
    await store.close();
  }

  const messages = server.logs().map((line) => line.msg);
  expect(messages).toContain('server stopping: no new requests, workers drain, audit flushes');
  expect(messages).toContain('server stopped');
  // Production logs are JSON lines.
  expect(server.logs().length).toBeGreaterThan(3);
});

test('SIGTERM while Redis is down: nothing waits for Redis to come back, and the server exits 0', async () => {
  // Its own redis-server, so stopping it cannot disturb the shared test Redis.
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-stop-redis-'));
  const port = await freePort();
  const redis = await ensureRedis({ port, name: `sluice-stop-redis-${port}`, mode: 'exclusive', stateDir });
  const orphan = await spawnServer({
    label: 'stop-redis-down',
    // A shutdown timeout longer than this test's own: a worker that waited it out (BullMQ's
    // close waits for Redis to answer its QUIT) would fail the test.
    env: { REDIS_URL: redis.url, ...db.env, WORKER_COUNT: '1', WORKER_SHUTDOWN_TIMEOUT: '120000' },
  });
  try {
    await redis.stop();
    // Stop once the worker is reconnecting (right after Redis went, a QUIT still settles).
    const reconnects = () => orphan.logs().filter((line) => line.msg === 'redis connection error').length;
    await waitUntil('the worker retrying Redis', () => reconnects() >= 3);
    // Before, the stop waited on the blocked stream read until Redis came back: forever.
    expect(await orphan.stop('SIGTERM')).toBe(0);
    const messages = orphan.logs().map((line) => line.msg);
    // The worker stops once Redis has been gone a second with no job unsettled, not at its timeout.
    expect(messages).toContain('redis closed the connection and no job is running or finishing: stopping without waiting for it');
    expect(messages.filter((message) => String(message).startsWith('shutdown timeout reached'))).toEqual([]);
    // The writer's flush does not wait out its 10 s for a Redis that does not answer.
    expect(messages).toContain('audit flush: redis does not answer; the backlog stays there for the next start');
    expect(messages).toContain('audit backlog left in redis for the next start');
    expect(messages).toContain('server stopped');
  } finally {
    await orphan.stop('SIGKILL').catch(() => {});
    rmSync(stateDir, { recursive: true, force: true });
  }
});
