/**
 * A Redis that stops answering without closing its connections (SIGSTOP: a paused VM, a network
 * stall). Before REDIS_COMMAND_TIMEOUT, a submit or a read waited with no limit (curl's own
 * 30 s timeout ended it) and /ready alone said anything. Now each is a 503 after the timeout,
 * and the CLI exits 1 saying the same. Real redis-server, server process and CLI.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import type { Subprocess } from 'bun';
import { resolve } from 'node:path';
import { testEnv } from '../helpers/env.ts';
import { startRedisServer, type OwnRedisServer } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';
import { REPO_ROOT, spawnServer, type ServerProcess } from './helpers/server-process.ts';

setDefaultTimeout(60_000);
const TIMEOUT_MS = 1000;
let ownRedis: OwnRedisServer;
let redis: Subprocess;
let redisUrl: string;
let server: ServerProcess;

beforeAll(async () => {
  ownRedis = await startRedisServer();
  ({ proc: redis, url: redisUrl } = ownRedis);
  server = await spawnServer({ label: 'redis-silent', env: { REDIS_URL: redisUrl, REDIS_COMMAND_TIMEOUT: String(TIMEOUT_MS), AUDIT_ENABLED: 'false', WORKER_COUNT: '1' } });
});

afterAll(async () => {
  redis?.kill('SIGCONT');
  await server?.stop();
  await ownRedis?.stop();
});

/** The answer, or null when none came within `ms` (the test's own limit, well past the server's). */
async function answerWithin(ms: number, path: string, init?: RequestInit & { json?: unknown }) {
  return server.request(path, { ...init, signal: AbortSignal.timeout(ms) }).catch(() => null);
}

test('submits and reads are 503 REDIS_UNAVAILABLE after REDIS_COMMAND_TIMEOUT, and work again once Redis answers', async () => {
  expect((await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'before' } } })).status).toBe(201);
  redis.kill('SIGSTOP');
  try {
    const submit = await answerWithin(8000, '/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'in the silence' }, jobId: 'silent-1' } });
    // Before: no answer at all.
    expect(submit).not.toBeNull();
    expect(submit!.status).toBe(503);
    const error = ((await submit!.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('REDIS_UNAVAILABLE');
    expect(error.message).toContain('did not answer within REDIS_COMMAND_TIMEOUT');
    expect((await answerWithin(8000, '/api/v1/jobs/stats'))?.status).toBe(503);

    const cli = Bun.spawn([process.execPath, resolve(REPO_ROOT, 'apps/cli/src/main.ts'), 'add', 'echo', '--data', '{"message":"cli in the silence"}'], {
      env: testEnv({ REDIS_URL: redisUrl, REDIS_COMMAND_TIMEOUT: String(TIMEOUT_MS), QUEUE_PREFIX: server.prefix }),
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const killer = setTimeout(() => cli.kill('SIGKILL'), 15_000);
    const [stderr, code] = await Promise.all([new Response(cli.stderr).text(), cli.exited]);
    clearTimeout(killer);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: Redis at redis:\/\/127\.0\.0\.1:\d+ .*did not answer within REDIS_COMMAND_TIMEOUT/);
  } finally {
    redis.kill('SIGCONT');
  }
  await waitFor('a submit to be accepted again', async () => (await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'after' } } })).status === 201, { timeoutMs: 20_000 });
});
