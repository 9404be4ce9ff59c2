/**
 * Redis that stops answering for a while without closing connections (SIGSTOP: a VM paused,
 * a long fork for a snapshot, a network stall). BullMQ's watchdog drops the worker's blocking
 * connection when a blocking read overruns, and reconnects it. With Bun's client, a reconnect
 * attempted while Redis was still silent failed and left the connection marked `ready`: the
 * worker never fetched a job again, while its process stayed up and counted as ready (before
 * the patch in patches/bullmq@6.7.0.patch). Real redis-server, `bun run worker` and its worker
 * process on Bun's client (the default).
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
import { waitForSettled } from '../helpers/queue.ts';
import { waitFor } from '../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-stall-'));
let port: number;
let redis: Subprocess | undefined;
let queue: QueueManager<typeof jobRegistry> | undefined;
let worker: WorkerMainProcess | undefined;

beforeAll(async () => {
  port = await freePort();
  redis = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdout: 'ignore', stderr: 'inherit' });
  await waitFor('redis-server to answer', () => Bun.spawnSync(['redis-cli', '-p', String(port), 'ping']).stdout.toString().trim() === 'PONG');
}, 30_000);

afterAll(async () => {
  redis?.kill('SIGCONT');
  await killIfRunning(worker?.proc);
  await queue?.close().catch(() => {});
  redis?.kill('SIGKILL');
  await redis?.exited;
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

test('after Redis is silent for 18 s, the worker takes jobs again', async () => {
  const env = { REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: uniquePrefix('stall'), DATA_DIR: join(dir, 'data'), WORKER_COUNT: '1', AUDIT_ENABLED: 'false', LOG_LEVEL: 'info' };
  worker = spawnWorkerMain(env);
  await waitFor('the worker process to be ready', () => worker!.stdout().includes('worker process ready'), { timeoutMs: 20_000 });
  queue = await QueueManager.open({ config: testConfig(env), registry: jobRegistry });
  const before = await queue.submit('echo', { message: 'before the stall' });
  expect((await waitForSettled(queue.queue, before.id)).state).toBe('completed');

  // Longer than the blocking read (5 s) plus BullMQ's watchdog (1 s) plus a connect timeout (10 s).
  redis!.kill('SIGSTOP');
  await Bun.sleep(18_000);
  redis!.kill('SIGCONT');

  const after = await queue.submit('echo', { message: 'after the stall' });
  // Before the patch: still prioritized minutes later.
  expect((await waitForSettled(queue.queue, after.id, 30_000)).state).toBe('completed');
  expect(worker.proc.exitCode).toBeNull();
}, 90_000);

/**
 * Two stalls in quick succession. The patched adapter still left a worker's blocking connection
 * stuck now and then (after its reconnect met the second stall): ready, sending heartbeats, and
 * fetching nothing. Its process now notices (jobs wait, it has free slots and starts none, at
 * two looks 15 s apart) and is replaced.
 */
test('after two stalls in a row, every job submitted afterwards runs', async () => {
  await killIfRunning(worker?.proc);
  const env = { REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: uniquePrefix('stall-twice'), DATA_DIR: join(dir, 'data-twice'), WORKER_COUNT: '2', AUDIT_ENABLED: 'false', LOG_LEVEL: 'info' };
  worker = spawnWorkerMain(env);
  await waitFor('both worker processes to be ready', () => worker!.stdout().split('worker process ready').length === 3, { timeoutMs: 20_000 });
  const twice = await QueueManager.open({ config: testConfig(env), registry: jobRegistry });
  try {
    for (let stall = 0; stall < 2; stall++) {
      redis!.kill('SIGSTOP');
      await Bun.sleep(7000);
      redis!.kill('SIGCONT');
      await Bun.sleep(300);
    }
    await Bun.sleep(3000);
    const jobs = await twice.submitBulk(Array.from({ length: 10 }, (_, i) => ({ type: 'echo' as const, data: { message: `after two stalls ${i}` } })));
    for (const { id } of jobs) expect((await waitForSettled(twice.queue, id, 90_000)).state).toBe('completed');
  } finally {
    await twice.close();
  }
}, 150_000);

/**
 * The supervisor killed hard, then Redis paused while the worker process holds an audit record
 * Redis had refused (it was full): the worker process stops on its own (the IPC channel closed),
 * and its last try at that record must not wait for Redis to answer. Before, it waited until
 * Redis came back: with no supervisor left to kill it, forever.
 */
test('with Redis paused, a worker process whose supervisor was killed still exits, naming the records it could not append', async () => {
  await killIfRunning(worker?.proc);
  const env = { REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: uniquePrefix('stall-orphan'), DATA_DIR: join(dir, 'data-orphan'), WORKER_COUNT: '1', WORKER_SHUTDOWN_TIMEOUT: '2000', LOG_LEVEL: 'info', LOG_PRETTY: 'false' };
  const running = (worker = spawnWorkerMain(env));
  await waitFor('the worker process to be ready', () => running.stdout().includes('worker process ready'), { timeoutMs: 20_000 });
  const orphanQueue = await QueueManager.open({ config: testConfig(env), registry: jobRegistry });
  const roomAgain = () => Bun.spawnSync(['redis-cli', '-p', String(port), 'config', 'set', 'maxmemory', '0']);
  let child: number | undefined;
  try {
    const { id } = await orphanQueue.submit('echo', { message: 'finishes while Redis is full', sleepMs: 1500 });
    await waitFor('the job to be active', async () => (await orphanQueue.queue.getJob(id))?.processedOn !== undefined);
    child = Number(Bun.spawnSync(['pgrep', '-P', String(running.proc.pid)]).stdout.toString().trim().split('\n')[0]);
    expect(child).toBeGreaterThan(0);
    // Full: the job's record is refused, and kept for a retry.
    Bun.spawnSync(['redis-cli', '-p', String(port), 'config', 'set', 'maxmemory', '1']);
    await waitFor('the refused append to be logged', () => running.stdout().includes('audit append refused'), { timeoutMs: 10_000 });
    running.proc.kill('SIGKILL');
    redis!.kill('SIGSTOP');

    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor('the orphaned worker process to exit', () => !alive(child!), { timeoutMs: 20_000 });
    expect(running.stdout()).toMatch(/"records":1,"msg":"audit records could not be appended before exit"/);
  } finally {
    redis!.kill('SIGCONT');
    roomAgain();
    if (child) Bun.spawnSync(['kill', '-9', String(child)]);
    await orphanQueue.close();
  }
}, 60_000);
