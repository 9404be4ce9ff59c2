/**
 * A worker process meeting a full Redis (used memory over maxmemory, under noeviction). BullMQ
 * retries a refused fetch at once, thousands of times a second: as an error storm that stopped
 * the process, its supervisor restarted it into the same storm and gave up within seconds,
 * taking `bun run worker` (or the server) down, and with it the audit records the process
 * kept while Redis refused them. Now the worker takes no new jobs for a while, longer each
 * time, and runs jobs again once memory is freed. Real redis-server, `bun apps/worker/src/main.ts`.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { Redis } from 'ioredis';
import { killIfRunning, spawnWorkerMain, type WorkerMainProcess } from '../helpers/processes.ts';
import { startRedisServer, type OwnRedisServer } from '../helpers/redis-server.ts';
import { openTestQueue, waitForSettled, type TestQueue } from '../helpers/queue.ts';
import { waitFor, within } from '../helpers/wait.ts';

let redisServer: OwnRedisServer;
let redis: Redis;
let redisUrl: string;
let queue: TestQueue;
let worker: WorkerMainProcess | undefined;

beforeAll(async () => {
  redisServer = await startRedisServer(['--maxmemory-policy', 'noeviction']);
  redisUrl = redisServer.url;
  redis = new Redis(redisUrl);
  queue = await openTestQueue('redis-full', { env: { REDIS_URL: redisUrl } });
}, 30_000);
afterAll(async () => {
  // Room again first: closing the queue writes, and a failed test may have left Redis full.
  await redis?.config('SET', 'maxmemory', '0').catch(() => {});
  await killIfRunning(worker?.proc);
  await queue?.close();
  redis?.disconnect();
  await redisServer?.stop();
}, 30_000);

const holdBacks = (output: string) => [...output.matchAll(/"pauseMs":(\d+),"msg":"redis is out of memory: taking no new jobs/g)].map((match) => Number(match[1]));

test('a worker process meeting a full Redis holds back, longer each time, and runs jobs again once there is room', async () => {
  await redis.config('SET', 'maxmemory', '1');
  worker = spawnWorkerMain({ ...queue.env, REDIS_URL: redisUrl, WORKER_COUNT: '1', AUDIT_ENABLED: 'false', LOG_LEVEL: 'info' });
  const running = worker;
  // Before: `worker 1 stopped: BullMQ reported 1000 errors within 1000 ms: OOM …`, five restarts, and exit 1.
  await waitFor('two hold-backs, or the process to exit', () => holdBacks(running.stdout()).length >= 2 || running.proc.exitCode !== null, { timeoutMs: 30_000 });
  expect(running.proc.exitCode).toBeNull();
  expect(holdBacks(running.stdout()).slice(0, 2)).toEqual([1000, 2000]);
  expect(running.stderr()).not.toContain('stopped: BullMQ reported');
  expect(running.stdout()).not.toContain('worker process exited; restarting');

  await redis.config('SET', 'maxmemory', '0');
  const { id } = await queue.manager.submit('echo', { message: 'room again' });
  // At most the pause then running (4 s, or 8 s if a third came first), and the job itself.
  const { state } = await waitForSettled(queue.manager.queue, id, 30_000);
  expect(state).toBe('completed');

  running.proc.kill('SIGTERM');
  expect(await within('the worker to exit', running.exited, 30_000)).toBe(0);
}, 90_000);
