/** Retries: exponential backoff between attempts, a final failure when attempts run out, success when they don't. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Supervisor } from '@sluice/supervisor';
import { startTestSupervisor, stopSupervisor, waitForChildrenReady } from '../helpers/processes.ts';
import { openTestQueue, waitForSettled, type TestQueue } from '../helpers/queue.ts';

let queue: TestQueue;
let supervisor: Supervisor;
/** Redis time (from the event stream id) at which each attempt of each job became active. */
const attemptStarts = new Map<string, number[]>();
let doomed: { id: string };
let persistent: { id: string };

beforeAll(async () => {
  queue = await openTestQueue('retry', { env: { WORKER_QUEUE_CONCURRENCY: '2' } });
  (await queue.events()).on('active', ({ jobId }, eventId) => {
    attemptStarts.set(jobId, [...(attemptStarts.get(jobId) ?? []), Number(eventId.split('-')[0])]);
  });
  supervisor = startTestSupervisor({ env: queue.env });
  await waitForChildrenReady(supervisor);
  // Both submitted up front so their backoff waits overlap instead of adding up.
  doomed = await queue.manager.submit('echo', { message: 'doomed', failTimes: 5 }, { attempts: 3 });
  persistent = await queue.manager.submit('echo', { message: 'persistent', failTimes: 1 }, { attempts: 3 });
}, 30_000);
afterAll(async () => {
  await stopSupervisor(supervisor);
  await queue?.close();
}, 30_000);

const settled = (id: string) => waitForSettled(queue.manager.queue, id);

describe('echo with failTimes', () => {
  test('more planned failures than attempts: fails for good, with growing gaps between attempts', async () => {
    const { job, state } = await settled(doomed.id);
    expect(state).toBe('failed');
    expect(job.attemptsMade).toBe(3);
    expect(job.failedReason).toBe('echo failing on purpose (attempt 3 of 5 planned failures)');

    const starts = attemptStarts.get(doomed.id)!;
    expect(starts).toHaveLength(3);
    const [firstGap, secondGap] = [starts[1]! - starts[0]!, starts[2]! - starts[1]!];
    // Default backoff: exponential from 2000 ms, so the waits are at least 2000 then 4000 ms.
    expect(firstGap).toBeGreaterThanOrEqual(2000);
    expect(secondGap).toBeGreaterThanOrEqual(4000);
    expect(secondGap).toBeGreaterThan(firstGap);
  }, 30_000);

  test('fewer planned failures than attempts: succeeds on the next attempt', async () => {
    const { job, state } = await settled(persistent.id);
    expect(state).toBe('completed');
    expect(job.attemptsMade).toBe(2);
    expect(job.returnvalue.message).toBe('persistent');
    expect(attemptStarts.get(persistent.id)).toHaveLength(2);
  }, 30_000);
});
