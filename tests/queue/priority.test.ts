/** Priority routing: a `high` job submitted after many `low` ones starts before all of them. */
import { expect, test } from 'bun:test';
import { useSupervisedQueue } from '../helpers/supervised-queue.ts';
import { waitFor } from '../helpers/wait.ts';

const LOW_JOBS = 50;
// One process with concurrency 1 runs jobs strictly one after another, so start order is total.
const fixture = useSupervisedQueue('priority', { WORKER_COUNT: '1', WORKER_QUEUE_CONCURRENCY: '1' });

test('on a paused queue, a high job submitted after 50 low ones starts first once resumed', async () => {
  const { queue } = fixture;
  const { manager } = queue;
  await manager.pause();
  // sleepMs 2: each job outlasts a millisecond, so no two start times can tie.
  const low = await manager.submitBulk(
    Array.from({ length: LOW_JOBS }, (_, i) => ({ type: 'echo', data: { message: `low ${i}`, sleepMs: 2 }, options: { priority: 'low' as const } })),
  );
  const high = await manager.submit('echo', { message: 'high', sleepMs: 2 }, { priority: 'high' });
  expect((await manager.getCounts()).paused).toBe(LOW_JOBS + 1);

  await manager.resume();
  await waitFor('all jobs to complete', async () => (await manager.getCounts()).completed === LOW_JOBS + 1);

  const highJob = (await manager.queue.getJob(high.id))!;
  const lowJobs = await Promise.all(low.map(({ id }) => manager.queue.getJob(id)));
  const firstLowStart = Math.min(...lowJobs.map((job) => job!.processedOn!));
  expect(highJob.opts.priority).toBeLessThan(lowJobs[0]!.opts.priority!);
  expect(highJob.processedOn!).toBeLessThan(firstLowStart);
  // The worker's own clock says the same: the high job finished before any low one began.
  expect(highJob.returnvalue.finishedAt).toBeLessThanOrEqual(Math.min(...lowJobs.map((job) => job!.returnvalue.startedAt)));
}, 30_000);
