/**
 * A Redis that is full: used memory over `maxmemory`, under the `noeviction` policy production
 * needs, refuses every write with `OOM command not allowed`. Before, a submit was a 500
 * INTERNAL with a stack trace in the log, and the CLI printed Redis's raw reply. Real
 * redis-server (its maxmemory lowered below what it uses), server process and CLI.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import { Redis } from 'ioredis';
import { runCli } from '../cli/cli.ts';
import { testEnv } from '../helpers/env.ts';
import { startRedisServer, type OwnRedisServer } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';
import { spawnServer, type ServerProcess } from './helpers/server-process.ts';

setDefaultTimeout(60_000);
let redisServer: OwnRedisServer;
let redis: Redis;
let redisUrl: string;
let server: ServerProcess;

beforeAll(async () => {
  redisServer = await startRedisServer(['--maxmemory-policy', 'noeviction']);
  redisUrl = redisServer.url;
  redis = new Redis(redisUrl);
  server = await spawnServer({ label: 'redis-full', env: { REDIS_URL: redisUrl, AUDIT_ENABLED: 'false', WORKER_COUNT: '1' } });
});

afterAll(async () => {
  await redis?.config('SET', 'maxmemory', '0').catch(() => {});
  await server?.stop();
  redis?.disconnect();
  await redisServer?.stop();
});

const fill = () => redis.config('SET', 'maxmemory', '1');
const free = () => redis.config('SET', 'maxmemory', '0');

test('a submit to a full Redis is a 503 REDIS_OUT_OF_MEMORY saying what to do, and queues nothing', async () => {
  await fill();
  try {
    const response = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'no room' }, jobId: 'full-1' } });
    const error = ((await response.json()) as { error: { code: string; message: string } }).error;
    // Before: 500 INTERNAL, "internal error; see the server log".
    expect({ status: response.status, code: error.code }).toEqual({ status: 503, code: 'REDIS_OUT_OF_MEMORY' });
    expect(error.message).toContain(`Redis at ${redisUrl} is out of memory`);
    expect(error.message).toContain('raise its maxmemory, or free memory by removing finished jobs');
    // Reads still work: the job is not there.
    expect((await server.request('/api/v1/jobs/full-1')).status).toBe(404);
  } finally {
    await free();
  }
  const logs = server.logs().filter((line) => line.path === '/api/v1/jobs' && line.status === 503);
  expect(logs.map((line) => [line.level, line.code])).toEqual([[40, 'REDIS_OUT_OF_MEMORY']]);
  expect(server.logs().some((line) => line.msg === 'request failed')).toBe(false);

  // With room again, the same submit is taken and runs.
  expect((await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'room now' }, jobId: 'full-1' } })).status).toBe(201);
  await waitFor('the job to complete', async () => ((await (await server.request('/api/v1/jobs/full-1')).json()) as { state: string }).state === 'completed');
});

test('queue:add against a full Redis exits 1 with one line saying so', async () => {
  await fill();
  let result;
  try {
    result = await runCli(['add', 'echo', '--data', '{"message":"no room"}'], testEnv({ REDIS_URL: redisUrl, QUEUE_PREFIX: server.prefix }));
  } finally {
    await free();
  }
  expect(result.code).toBe(1);
  // Before: `error: OOM command not allowed when used memory > 'maxmemory'. script: …`
  expect(result.stderr).toBe(`error: Redis at ${redisUrl} is out of memory (used memory over its maxmemory, and its policy refuses writes), so nothing was written: raise its maxmemory, or free memory by removing finished jobs (the dashboard's Clean, or POST /api/v1/jobs/queue/clean)\n`);
  expect(result.stdout).toBe('');
});
