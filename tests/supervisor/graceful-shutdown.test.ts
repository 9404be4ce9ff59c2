/**
 * Stopping `bun run worker` (apps/worker/src/main.ts): SIGTERM to it, or SIGHUP to its whole
 * process group (the terminal closed, as a shell sends it to its jobs), lets the active job
 * finish and everything exits 0; started under nohup, it outlives the hangup.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { killIfRunning, spawnWorkerMain, type WorkerMainProcess } from '../helpers/processes.ts';
import { openTestQueue, waitForSettled, type TestQueue } from '../helpers/queue.ts';
import { waitFor, within } from '../helpers/wait.ts';

let queue: TestQueue;
let worker: WorkerMainProcess | undefined;

beforeAll(async () => {
  queue = await openTestQueue('graceful-stop');
}, 30_000);
afterAll(async () => {
  await killIfRunning(worker?.proc);
  await queue?.close();
}, 30_000);

const readyWorkers = (output: string) => output.split('\n').filter((line) => line.includes('"worker ready"')).length;

test.each([
  ['SIGTERM to the process', 'SIGTERM', false],
  ['a hangup (SIGHUP to its process group)', 'SIGHUP', true],
] as const)('%s while a job runs lets it complete, and the process exits 0', async (_what, signal, toGroup) => {
  worker = spawnWorkerMain({ ...queue.env, WORKER_COUNT: '2', WORKER_SHUTDOWN_TIMEOUT: '20000', LOG_LEVEL: 'info' }, { ownGroup: toGroup });
  const { id } = await queue.manager.submit('echo', { message: 'finish me', sleepMs: 2000 });
  await waitFor('the job to be active', async () => (await queue.manager.queue.getJob(id))?.processedOn !== undefined);

  process.kill(toGroup ? -worker.proc.pid : worker.proc.pid, signal);
  const code = await within('the worker to exit', worker.exited, 30_000);

  expect({ code, stderr: worker.stderr() }).toEqual({ code: 0, stderr: '' });
  expect(worker.stdout()).toContain(`"signal":"${signal}"`);
  const job = (await queue.manager.queue.getJob(id))!;
  expect(await job.getState()).toBe('completed');
  expect(job.returnvalue.message).toBe('finish me');
  expect(job.stalledCounter).toBe(0);
  expect(job.attemptsMade).toBe(1);
}, 60_000);

test('started with nohup, `bun run worker` and its worker processes outlive the hangup', async () => {
  worker = spawnWorkerMain({ ...queue.env, WORKER_COUNT: '2', LOG_LEVEL: 'info' }, { wrapper: ['nohup'], ownGroup: true });
  const running = worker;
  await waitFor('both worker processes to be ready', () => readyWorkers(running.stdout()) === 2, { timeoutMs: 30_000 });

  process.kill(-running.proc.pid, 'SIGHUP');
  await waitFor('the hangup to be logged, or the process to exit', () => running.stdout().includes('SIGHUP ignored') || running.proc.exitCode !== null, { timeoutMs: 10_000 });
  // Before: the supervisor stopped, and each worker process drained on the hangup it got itself.
  expect(running.proc.exitCode).toBeNull();
  const { id } = await queue.manager.submit('echo', { message: 'after the hangup' });
  const { state } = await waitForSettled(queue.manager.queue, id);
  expect(state).toBe('completed');
  expect(running.proc.exitCode).toBeNull();
  expect(running.stdout()).not.toContain('worker draining');
  expect(readyWorkers(running.stdout())).toBe(2); // none was restarted

  running.proc.kill('SIGTERM');
  expect(await within('the worker to exit', running.exited, 30_000)).toBe(0);
}, 60_000);
