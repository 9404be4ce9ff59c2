/** Submit -> a supervisor-managed worker subprocess runs it -> the result is readable by the producer. */
import { expect, test } from 'bun:test';
import { useSupervisedQueue } from '../helpers/supervised-queue.ts';

const fixture = useSupervisedQueue('process');

test('a submitted echo job is processed by a worker subprocess and its result is readable', async () => {
  const { queue, supervisor } = fixture;
  const { id } = await queue.manager.submit('echo', { message: 'hello from the test' });
  const job = (await queue.manager.queue.getJob(id))!;

  const result = await job.waitUntilFinished(await queue.events(), 20_000);

  const [child] = supervisor.snapshot();
  expect(result).toMatchObject({ message: 'hello from the test', pid: child!.pid });
  expect(result.pid).not.toBe(process.pid);
  const finished = (await queue.manager.queue.getJob(id))!;
  expect(await finished.getState()).toBe('completed');
  expect(finished.returnvalue).toEqual(result);
  expect(finished.attemptsMade).toBe(1);
}, 30_000);
