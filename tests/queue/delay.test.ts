/** A delayed job waits in `delayed` and is not started before its delay has passed. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Supervisor } from '@sluice/supervisor';
import { startTestSupervisor, stopSupervisor, waitForChildrenReady } from '../helpers/processes.ts';
import { openTestQueue, type TestQueue } from '../helpers/queue.ts';

const DELAY_MS = 1500;
let queue: TestQueue;
let supervisor: Supervisor;

beforeAll(async () => {
  queue = await openTestQueue('delay');
  supervisor = startTestSupervisor({ env: queue.env });
  // An idle worker is already waiting, so only the delay can hold the job back.
  await waitForChildrenReady(supervisor);
}, 30_000);
afterAll(async () => {
  await stopSupervisor(supervisor);
  await queue?.close();
}, 30_000);

test('a job submitted with delayMs starts no earlier than its timestamp plus the delay', async () => {
  const { id } = await queue.manager.submit('echo', { message: 'later' }, { delayMs: DELAY_MS });
  const job = (await queue.manager.queue.getJob(id))!;
  expect(await job.getState()).toBe('delayed');

  await job.waitUntilFinished(await queue.events(), 20_000);

  const done = (await queue.manager.queue.getJob(id))!;
  expect(done.opts.delay).toBe(DELAY_MS);
  expect(done.processedOn!).toBeGreaterThanOrEqual(done.timestamp + DELAY_MS);
}, 30_000);
