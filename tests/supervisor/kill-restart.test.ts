/** A worker process SIGKILLed mid-job is restarted by the supervisor, and stall recovery finishes the job. */
import { expect, test } from 'bun:test';
import { useSupervisedQueue } from '../helpers/supervised-queue.ts';
import { waitForSettled } from '../helpers/queue.ts';
import { waitFor } from '../helpers/wait.ts';

// .env.test keeps the lock duration and stalled interval at 5 s so recovery is quick.
const fixture = useSupervisedQueue('kill');

test('SIGKILL during a job: the process is restarted with a new pid and the job still completes', async () => {
  const { queue, supervisor } = fixture;
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

  // Stall recovery waits for the dead worker's lock to expire (5 s in .env.test).
  const { job, state } = await waitForSettled(queue.manager.queue, id, 40_000);
  expect({ state, failedReason: job.failedReason }).toMatchObject({ state: 'completed' });
  expect(job.returnvalue).toMatchObject({ message: 'survivor', pid: after!.pid });
  expect(job.stalledCounter).toBe(1);
  expect(await queue.manager.getCounts()).toMatchObject({ completed: 1, failed: 0, active: 0, waiting: 0 });
}, 60_000);
