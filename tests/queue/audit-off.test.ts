/** AUDIT_ENABLED=false: worker processes run jobs as usual and append nothing to the audit stream. */
import { expect, test } from 'bun:test';
import { sluiceKeys } from '@sluice/queue';
import { useSupervisedQueue } from '../helpers/supervised-queue.ts';
import { waitFor } from '../helpers/wait.ts';

const fixture = useSupervisedQueue('audit-off', { AUDIT_ENABLED: 'false', WORKER_QUEUE_CONCURRENCY: '20' });

test('200 jobs finishing together all complete with their own results, and no audit record is written', async () => {
  const { queue } = fixture;
  const submitted = await queue.manager.submitBulk(
    Array.from({ length: 200 }, (_, i) => ({ type: 'echo', data: { message: `off ${i}` }, options: { removeOnComplete: false } })),
  );
  // A retried job too: its failed attempt and its completion both go through the same path.
  const retried = await queue.manager.submit('echo', { message: 'retried', failTimes: 1 }, { attempts: 2, removeOnComplete: false });

  await waitFor('201 jobs to complete', async () => (await queue.manager.queue.getJobCountByTypes('completed')) === 201, { timeoutMs: 20_000 });

  const jobs = await Promise.all(submitted.map(async ({ id }) => (await queue.manager.queue.getJob(id))!));
  expect(jobs.map((job) => job.returnvalue?.message)).toEqual(submitted.map((_, i) => `off ${i}`));
  const again = (await queue.manager.queue.getJob(retried.id))!;
  expect(again.attemptsMade).toBe(2);
  expect(again.returnvalue.message).toBe('retried');
  expect(await queue.manager.connection.exists(sluiceKeys(queue.prefix).auditStream)).toBe(0);
}, 30_000);
