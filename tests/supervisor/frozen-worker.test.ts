/**
 * A worker process frozen for a while (SIGSTOP here; `docker pause` or a paused VM alike) and
 * then let go. On Bun's Redis client its blocking connection could stay stuck: the process
 * counted as ready again and fetched nothing for half a minute, or for good while a sibling
 * took the jobs. It now notices the freeze (its timers late, no CPU used meanwhile) and is
 * replaced. A handler that holds the event loop for as long is not taken for one.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { killIfRunning, spawnWorkerMain, type WorkerMainProcess } from '../helpers/processes.ts';
import { openTestQueue, waitForSettled, type TestQueue } from '../helpers/queue.ts';
import { waitFor, within } from '../helpers/wait.ts';

let queue: TestQueue;
const started: WorkerMainProcess[] = [];
const stopped = new Set<number>();

beforeAll(async () => {
  queue = await openTestQueue('frozen-worker');
}, 30_000);
afterAll(async () => {
  for (const pid of stopped) process.kill(pid, 'SIGCONT');
  for (const worker of started) await killIfRunning(worker.proc);
  await queue?.close();
}, 30_000);

function startWorker(env: Record<string, string> = {}): WorkerMainProcess {
  const worker = spawnWorkerMain({ ...queue.env, WORKER_COUNT: '1', LOG_LEVEL: 'info', LOG_PRETTY: 'false', ...env });
  started.push(worker);
  return worker;
}

const count = (output: string, msg: string) => output.split('\n').filter((line) => line.includes(`"msg":"${msg}`)).length;
const childOf = (pid: number) => Number(Bun.spawnSync(['pgrep', '-P', String(pid)]).stdout.toString().trim().split('\n')[0]);

test('a worker process frozen for 7 s is replaced when it runs again, and the next job runs', async () => {
  const worker = startWorker();
  await waitFor('the worker process to be ready', () => count(worker.stdout(), 'worker process ready') === 1, { timeoutMs: 20_000 });
  const child = childOf(worker.proc.pid);
  expect(child).toBeGreaterThan(0);

  process.kill(child, 'SIGSTOP');
  stopped.add(child);
  await Bun.sleep(7000);
  process.kill(child, 'SIGCONT');
  stopped.delete(child);

  // Before: nothing was logged, and jobs waited until the fetch watchdog's two looks, 15 s apart.
  await waitFor('the freeze to be noticed', () => count(worker.stdout(), 'worker process was frozen') === 1, { timeoutMs: 10_000 });
  const line = JSON.parse(worker.stdout().split('\n').find((l) => l.includes('"msg":"worker process was frozen'))!);
  expect(line.frozenMs).toBeGreaterThanOrEqual(6000);
  expect(line.msg).toContain('replacing it');
  await waitFor('a new worker process to be ready', () => count(worker.stdout(), 'worker process ready') === 2, { timeoutMs: 20_000 });
  expect(childOf(worker.proc.pid)).not.toBe(child);

  const { id } = await queue.manager.submit('echo', { message: 'after the freeze' });
  expect((await waitForSettled(queue.manager.queue, id, 30_000)).state).toBe('completed');
  worker.proc.kill('SIGTERM');
  expect(await within('the worker to exit', worker.exited, 30_000)).toBe(0);
}, 90_000);

test('a handler holding the event loop for 7 s is not a freeze: the process carries on', async () => {
  // A lock that outlives the 7 s the loop is held (the tests' 5 s would be lost meanwhile).
  const worker = startWorker({ WORKER_QUEUE_LOCK_DURATION: '30000' });
  await waitFor('the worker process to be ready', () => count(worker.stdout(), 'worker process ready') === 1, { timeoutMs: 20_000 });
  const { id } = await queue.manager.submit('echo', { message: 'busy', cpuMs: 7000 });
  expect((await waitForSettled(queue.manager.queue, id, 30_000)).state).toBe('completed');
  // A tick after the loop is free again, where a freeze would have been noticed.
  await Bun.sleep(1500);
  expect(count(worker.stdout(), 'worker process was frozen')).toBe(0);
  expect(count(worker.stdout(), 'worker process exited; restarting')).toBe(0);
  worker.proc.kill('SIGTERM');
  expect(await within('the worker to exit', worker.exited, 30_000)).toBe(0);
}, 60_000);
