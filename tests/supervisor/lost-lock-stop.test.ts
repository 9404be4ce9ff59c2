/**
 * A job whose lock a worker lost (the process was stopped past the lock duration) finishes
 * with an outcome BullMQ cannot record. The worker must not keep waiting for it: a later stop
 * with Redis gone takes the quick "nothing left for Redis" path instead of the shutdown timeout.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager } from '@sluice/queue';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { freePort } from '../helpers/ports.ts';
import { killIfRunning, spawnWorkerMain, type WorkerMainProcess } from '../helpers/processes.ts';
import { waitFor, within } from '../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-lost-lock-'));
const prefix = uniquePrefix('lost-lock');
let port: number;
let redis: Subprocess | undefined;
let queue: QueueManager<typeof jobRegistry> | undefined;
let worker: WorkerMainProcess | undefined;
let stoppedPid: number | undefined;

beforeAll(async () => {
  port = await freePort();
  redis = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdout: 'ignore', stderr: 'inherit' });
  await waitFor('redis-server to answer', () => Bun.spawnSync(['redis-cli', '-p', String(port), 'ping']).stdout.toString().trim() === 'PONG');
}, 30_000);

afterAll(async () => {
  if (stoppedPid) signal(stoppedPid, 'SIGCONT');
  await killIfRunning(worker?.proc);
  await queue?.close().catch(() => {});
  await killIfRunning(redis);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

const logs = () => worker!.stdout().split('\n').flatMap((line) => {
  try {
    return line.startsWith('{') ? [JSON.parse(line) as Record<string, any>] : [];
  } catch {
    return [];
  }
});

test('after a lost lock, a stop with Redis shut down does not wait for the job BullMQ could not settle', async () => {
  const env = {
    REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: prefix, WORKER_COUNT: '1', WORKER_QUEUE_CONCURRENCY: '1', AUDIT_ENABLED: 'false',
    LOG_LEVEL: 'info', LOG_PRETTY: 'false',
    // The reviewer's setting: the lock is lost after 5 s without renewal; a stop may wait 20 s.
    WORKER_QUEUE_LOCK_DURATION: '5000', WORKER_QUEUE_STALLED_INTERVAL: '5000', WORKER_SHUTDOWN_TIMEOUT: '20000',
  };
  worker = spawnWorkerMain(env);
  queue = await QueueManager.open({ config: testConfig(env), registry: jobRegistry });
  const child = await waitFor('the worker process to be ready', () => logs().find((line) => line.msg === 'worker process ready'), { timeoutMs: 30_000 });

  const first = await queue.submit('echo', { message: 'loses its lock', sleepMs: 2000 });
  const second = await queue.submit('echo', { message: 'runs after it', sleepMs: 2000 });
  await waitFor('the first job to be active', async () => (await queue!.queue.getJob(first.id))?.processedOn !== undefined);

  // Stopped until the lock has expired: nothing renews it meanwhile.
  stoppedPid = child.workerPid as number;
  signal(stoppedPid, 'SIGSTOP');
  const lockKey = queue.queue.toKey(`${first.id}:lock`);
  await waitFor('the first job to lose its lock', async () => (await queue!.connection.exists(lockKey)) === 0, { timeoutMs: 30_000 });
  signal(stoppedPid, 'SIGCONT');
  stoppedPid = undefined;

  // BullMQ refuses to record the finished run ('Missing lock for job'); stall recovery runs it again.
  await waitFor('BullMQ to refuse the outcome of the run that lost its lock', () =>
    logs().some((line) => line.msg === 'worker error' && /(Missing lock|Lock mismatch) for job/.test(String(line.err?.message))), { timeoutMs: 30_000 });
  for (const { id } of [first, second]) {
    await waitFor(`job ${id} to complete`, async () => (await queue!.queue.getJob(id))?.finishedOn !== undefined && (await queue!.queue.getJobState(id)) === 'completed', { timeoutMs: 40_000 });
  }

  // Nothing runs and nothing is on its way to Redis: with Redis gone, the stop need not wait for it.
  Bun.spawnSync(['redis-cli', '-p', String(port), 'shutdown', 'nosave']);
  await redis!.exited;
  // Stop once the worker is reconnecting (right after Redis went, BullMQ's QUIT still settles).
  await waitFor('the worker retrying Redis', () => logs().filter((line) => line.msg === 'redis connection error').length >= 3, { timeoutMs: 30_000 });
  worker.proc.kill('SIGTERM');
  expect(await within('the worker to exit', worker.exited, 40_000)).toBe(0);
  const messages = logs().map((line) => line.msg);
  expect(messages).toContain('redis closed the connection and no job is running or finishing: stopping without waiting for it');
  expect(messages).not.toContain('shutdown timeout reached while closing the Redis connection (is Redis down?); no job was running');
  // The run whose outcome BullMQ refused was let go, and said so.
  expect(logs().filter((line) => line.msg === 'job outcome not recorded (lock lost or job gone); not waiting for it' && line.jobId === first.id)).toHaveLength(1);
}, 120_000);
