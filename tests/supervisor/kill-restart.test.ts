/** A worker process SIGKILLed mid-job is restarted by the supervisor, and stall recovery finishes the job. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Supervisor } from '@sluice/supervisor';
import { startTestSupervisor, stopSupervisor, waitForChildrenReady } from '../helpers/processes.ts';
import { openTestQueue, type TestQueue } from '../helpers/queue.ts';
import { waitFor } from '../helpers/wait.ts';

let queue: TestQueue;
let supervisor: Supervisor;

beforeAll(async () => {
  // .env.test keeps the lock duration and stalled interval at 5 s so recovery is quick.
  queue = await openTestQueue('kill');
  supervisor = startTestSupervisor({ env: queue.env });
  await waitForChildrenReady(supervisor);
}, 30_000);
afterAll(async () => {
  await stopSupervisor(supervisor);
  await queue?.close();
}, 30_000);

test('SIGKILL during a job: the process is restarted with a new pid and the job still completes', async () => {
  const [before] = supervisor.snapshot();
  const { id } = await queue.manager.submit('echo', { message: 'survivor', sleepMs: 3000 });
  await waitFor('the job to be active', async () => (await queue.manager.queue.getJob(id))?.processedOn !== undefined);

  process.kill(before!.pid!, 'SIGKILL');

  const [after] = await waitFor('the supervisor to restart the worker', () => {
    const children = supervisor.snapshot();
    return children[0]!.restarts > 0 && children[0]!.state === 'ready' && children;
  });
  expect(after!.restarts).toBe(1);
  expect(after!.pid).not.toBe(before!.pid);

  const job = await waitFor(
    'the job to complete after stall recovery',
    async () => {
      const current = await queue.manager.queue.getJob(id);
      const state = await current?.getState();
      if (state === 'failed') throw new Error(`job failed: ${current!.failedReason}`);
      return state === 'completed' && current;
    },
    { timeoutMs: 40_000 },
  );
  expect(job.returnvalue).toMatchObject({ message: 'survivor', pid: after!.pid });
  expect(job.stalledCounter).toBe(1);
  expect(await queue.manager.getCounts()).toMatchObject({ completed: 1, failed: 0, active: 0, waiting: 0 });
}, 60_000);
