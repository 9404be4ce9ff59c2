/**
 * Past WORKER_SHUTDOWN_TIMEOUT the worker exits 0 anyway, and puts the job it could not finish
 * back in the queue for another worker to run again: not failed, and no stall counted.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { killIfRunning, spawnWorkerMain, type WorkerMainProcess } from '../helpers/processes.ts';
import { openTestQueue, waitForSettled, type TestQueue } from '../helpers/queue.ts';
import { waitFor, within } from '../helpers/wait.ts';

const SHUTDOWN_TIMEOUT_MS = 300;
const JOB_SLEEP_MS = 4000;
let queue: TestQueue;
const workers: WorkerMainProcess[] = [];

function startWorker(env: Record<string, string> = {}): WorkerMainProcess {
  const worker = spawnWorkerMain({ ...queue.env, WORKER_COUNT: '1', WORKER_SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT_MS), ...env });
  workers.push(worker);
  return worker;
}

beforeAll(async () => {
  queue = await openTestQueue('shutdown-timeout');
}, 30_000);
afterAll(async () => {
  for (const worker of workers) await killIfRunning(worker.proc);
  await queue?.close();
}, 30_000);

test('a job longer than the shutdown timeout goes back to the queue, the process exits 0, and another worker runs it', async () => {
  const first = startWorker();
  const { id } = await queue.manager.submit('echo', { message: 'too slow', sleepMs: JOB_SLEEP_MS });
  await waitFor('the job to be active', async () => (await queue.manager.queue.getJob(id))?.processedOn !== undefined);

  first.proc.kill('SIGTERM');
  const code = await within('the worker to exit', first.exited, 20_000);

  expect(code).toBe(0);
  // The worker gave up draining by itself (not the supervisor's hard-kill backstop).
  expect(first.stdout()).toContain('shutdown timeout reached; unfinished jobs returned to the queue');
  const left = (await queue.manager.queue.getJob(id))!;
  // Waiting for a worker now, not active under a lock until stalled-job recovery finds it.
  expect(await left.getState()).toBe('prioritized');
  expect(left.failedReason).toBeFalsy();
  expect(left.finishedOn).toBeUndefined();

  const second = startWorker();
  const { job: recovered, state } = await waitForSettled(queue.manager.queue, id, 40_000);
  expect({ state, failedReason: recovered.failedReason }).toMatchObject({ state: 'completed' });
  expect(recovered.stalledCounter).toBe(0);
  expect(recovered.returnvalue.message).toBe('too slow');
  expect(await queue.manager.getCounts()).toMatchObject({ active: 0, failed: 0, completed: 1 });

  second.proc.kill('SIGTERM');
  expect(await within('the second worker to exit', second.exited, 10_000)).toBe(0);
}, 60_000);

/** BullMQ fails a job that stalls twice: as stalls, two restarts during one long job failed it for good, whatever its attempts. */
test('three restarts during one long job: it completes, with no stall counted', async () => {
  await queue.manager.queue.obliterate({ force: true });
  // A short lock, so that a job left under its lock would be found stalled within the test.
  const env = { WORKER_QUEUE_LOCK_DURATION: '2000', WORKER_QUEUE_STALLED_INTERVAL: '1000' };
  const { id } = await queue.manager.submit('echo', { message: 'outlives deploys', sleepMs: JOB_SLEEP_MS });
  for (let restart = 1; restart <= 3; restart++) {
    const worker = startWorker(env);
    const state = await waitFor(`run ${restart} to start`, async () => {
      const now = await (await queue.manager.queue.getJob(id))!.getState();
      return (now === 'active' || now === 'failed') && now;
    }, { timeoutMs: 20_000 });
    expect(state).toBe('active');
    worker.proc.kill('SIGTERM');
    expect(await within('the worker to exit', worker.exited, 20_000)).toBe(0);
    expect(await (await queue.manager.queue.getJob(id))!.getState()).toBe('prioritized');
  }
  const last = startWorker(env);
  const { job, state } = await waitForSettled(queue.manager.queue, id, 30_000);
  expect({ state, failedReason: job.failedReason || 'none', stalledCounter: job.stalledCounter }).toEqual({ state: 'completed', failedReason: 'none', stalledCounter: 0 });
  last.proc.kill('SIGTERM');
  expect(await within('the last worker to exit', last.exited, 10_000)).toBe(0);
}, 120_000);

test('a worker process whose event loop a job blocks is killed 5 s past the timeout, and the log says so', async () => {
  const worker = startWorker();
  const { id } = await queue.manager.submit('echo', { message: 'blocks the loop', cpuMs: 15_000 });
  await waitFor('the job to be active', async () => (await queue.manager.queue.getJob(id))?.processedOn !== undefined);
  worker.proc.kill('SIGTERM');
  expect(await within('the worker to exit', worker.exited, 20_000)).toBe(0);
  // Before: `supervisor stopping` and then `supervisor exited`, with nothing about the kill.
  const killed = worker.stdout().split('\n').find((line) => line.includes('did not stop after the shutdown timeout'));
  expect(killed).toBeDefined();
  expect(JSON.parse(killed!)).toMatchObject({ level: 50, slot: 1, waitedMs: SHUTDOWN_TIMEOUT_MS + 5000 });
  await queue.manager.queue.obliterate({ force: true });
}, 60_000);
