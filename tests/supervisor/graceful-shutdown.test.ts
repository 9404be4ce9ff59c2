/** SIGTERM to `bun run worker` (apps/worker/src/main.ts): the active job finishes and everything exits 0. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { killIfRunning, spawnWorkerMain, type WorkerMainProcess } from '../helpers/processes.ts';
import { openTestQueue, type TestQueue } from '../helpers/queue.ts';
import { waitFor, within } from '../helpers/wait.ts';

let queue: TestQueue;
let worker: WorkerMainProcess | undefined;

beforeAll(async () => {
  queue = await openTestQueue('sigterm');
}, 30_000);
afterAll(async () => {
  await killIfRunning(worker?.proc);
  await queue?.close();
}, 30_000);

test('SIGTERM while a job runs lets it complete, and the process exits 0', async () => {
  worker = spawnWorkerMain({ ...queue.env, WORKER_COUNT: '1', WORKER_SHUTDOWN_TIMEOUT: '20000' });
  const { id } = await queue.manager.submit('echo', { message: 'finish me', sleepMs: 2000 });
  await waitFor('the job to be active', async () => (await queue.manager.queue.getJob(id))?.processedOn !== undefined);

  worker.proc.kill('SIGTERM');
  const code = await within('the worker to exit', worker.exited, 30_000);

  expect({ code, stderr: worker.stderr() }).toEqual({ code: 0, stderr: '' });
  const job = (await queue.manager.queue.getJob(id))!;
  expect(await job.getState()).toBe('completed');
  expect(job.returnvalue.message).toBe('finish me');
  expect(job.stalledCounter).toBe(0);
  expect(job.attemptsMade).toBe(1);
}, 40_000);
