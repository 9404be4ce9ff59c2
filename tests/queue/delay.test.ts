/** A delayed job waits in `delayed` and is not started before its delay has passed. */
import { expect, test } from 'bun:test';
import { useSupervisedQueue } from '../helpers/supervised-queue.ts';

const DELAY_MS = 1500;
// An idle worker is already waiting, so only the delay can hold the job back.
const fixture = useSupervisedQueue('delay');

test('a job submitted with delayMs starts no earlier than its timestamp plus the delay', async () => {
  const { queue } = fixture;
  const { id } = await queue.manager.submit('echo', { message: 'later' }, { delayMs: DELAY_MS });
  const job = (await queue.manager.queue.getJob(id))!;
  expect(await job.getState()).toBe('delayed');

  await job.waitUntilFinished(await queue.events(), 20_000);

  const done = (await queue.manager.queue.getJob(id))!;
  expect(done.opts.delay).toBe(DELAY_MS);
  expect(done.processedOn!).toBeGreaterThanOrEqual(done.timestamp + DELAY_MS);
}, 30_000);
