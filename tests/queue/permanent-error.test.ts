/** A PermanentError from a handler fails the job at once, whatever attempts remain. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Supervisor } from '@sluice/supervisor';
import { startTestSupervisor, stopSupervisor, waitForChildrenReady } from '../helpers/processes.ts';
import { openTestQueue, type TestQueue } from '../helpers/queue.ts';
import { waitFor } from '../helpers/wait.ts';

let queue: TestQueue;
let supervisor: Supervisor;

beforeAll(async () => {
  queue = await openTestQueue('permanent');
  supervisor = startTestSupervisor({ env: queue.env });
  await waitForChildrenReady(supervisor);
}, 30_000);
afterAll(async () => {
  await stopSupervisor(supervisor);
  await queue?.close();
}, 30_000);

test('a permanent error is not retried', async () => {
  const { id } = await queue.manager.submit('echo', { message: 'no hope', failPermanently: true }, { attempts: 5 });

  const job = await waitFor('the job to fail', async () => {
    const current = await queue.manager.queue.getJob(id);
    return (await current?.getState()) === 'failed' && current;
  });

  expect(job.attemptsMade).toBe(1);
  expect(job.opts.attempts).toBe(5);
  expect(job.failedReason).toBe('echo failing permanently on purpose');
  expect((await queue.manager.getCounts()).delayed).toBe(0);
}, 30_000);
