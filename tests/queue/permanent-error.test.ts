/** A PermanentError from a handler fails the job at once, whatever attempts remain. */
import { expect, test } from 'bun:test';
import { useSupervisedQueue } from '../helpers/supervised-queue.ts';
import { waitForSettled } from '../helpers/queue.ts';

const fixture = useSupervisedQueue('permanent');

test('a permanent error is not retried', async () => {
  const { queue } = fixture;
  const { id } = await queue.manager.submit('echo', { message: 'no hope', failPermanently: true }, { attempts: 5 });

  const { job, state } = await waitForSettled(queue.manager.queue, id);
  expect(state).toBe('failed');

  expect(job.attemptsMade).toBe(1);
  expect(job.opts.attempts).toBe(5);
  expect(job.failedReason).toBe('echo failing permanently on purpose');
  expect((await queue.manager.getCounts()).delayed).toBe(0);
}, 30_000);
