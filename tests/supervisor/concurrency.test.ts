/** 2 worker processes x concurrency 3: six sleeping jobs all run at once, spread over both pids. */
import { expect, test } from 'bun:test';
import { useSupervisedQueue } from '../helpers/supervised-queue.ts';

const fixture = useSupervisedQueue('concurrency', { WORKER_COUNT: '2', WORKER_QUEUE_CONCURRENCY: '3' });

test('six sleepMs jobs run with overlapping execution windows in two distinct pids', async () => {
  const { queue, supervisor } = fixture;
  const children = supervisor.snapshot();
  expect(children).toHaveLength(2);

  const submitted = await queue.manager.submitBulk(
    Array.from({ length: 6 }, (_, i) => ({ type: 'echo', data: { message: `parallel ${i}`, sleepMs: 1500 } })),
  );
  const events = await queue.events();
  const results = await Promise.all(
    submitted.map(async ({ id }) => (await queue.manager.queue.getJob(id))!.waitUntilFinished(events, 20_000)),
  );

  // Each process can hold only 3, so six running together needs both of them.
  const pids = new Set(results.map((r) => r.pid));
  expect([...pids].sort()).toEqual(children.map((c) => c.pid!).sort());
  for (const pid of pids) expect(results.filter((r) => r.pid === pid)).toHaveLength(3);
  // All six windows share an instant: the last start comes before the first finish.
  const lastStart = Math.max(...results.map((r) => r.startedAt));
  const firstFinish = Math.min(...results.map((r) => r.finishedAt));
  expect(lastStart).toBeLessThan(firstFinish);
}, 30_000);
