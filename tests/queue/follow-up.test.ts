/** ctx.queue.submit from a handler: a named follow-up job is created once; finding it there is success. In-process worker, injected registry. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { Type } from '@sinclair/typebox';
import { defineJob } from '@sluice/jobs';
import { createLogger } from '@sluice/observability';
import { connectRedis, createJobWorker, type JobWorker } from '@sluice/queue';
import type { Redis } from 'ioredis';
import { openTestQueue, waitForSettled, type TestQueue } from '../helpers/queue.ts';

const registry = {
  parent: defineJob({
    description: 'Queues the follow-up job named in its data, delayed so it stays put, and returns what submit said.',
    schema: Type.Object({ childId: Type.String() }, { additionalProperties: false }),
    priority: 'normal',
    run: ({ data, ctx }) => ctx.queue.submit('child', { from: data.childId }, { jobId: data.childId, delayMs: 60_000 }),
  }),
  child: defineJob({
    description: 'The follow-up.',
    schema: Type.Object({ from: Type.String() }, { additionalProperties: false }),
    priority: 'normal',
    run: async () => null,
  }),
};

let queue: TestQueue<typeof registry>;
let connection: Redis;
let worker: JobWorker;

beforeAll(async () => {
  queue = await openTestQueue('follow-up', { registry });
  connection = await connectRedis(queue.config.redis.url, { role: 'blocking' });
  worker = createJobWorker({ config: queue.config, registry, connection, log: createLogger({ level: 'silent', pretty: false }), queue: queue.manager });
}, 30_000);
afterAll(async () => {
  await worker?.stop(5000);
  connection?.disconnect();
  await queue?.close();
}, 30_000);

test('two handlers queueing the same named follow-up: one creates it, the other finds it, both complete', async () => {
  const first = await queue.manager.submit('parent', { childId: 'child-of-both' }, { attempts: 1 });
  const firstRun = await waitForSettled(queue.manager.queue, first.id);
  expect(firstRun.state).toBe('completed');
  expect(firstRun.job.returnvalue).toEqual({ id: 'child-of-both' });

  const second = await queue.manager.submit('parent', { childId: 'child-of-both' }, { attempts: 1 });
  const secondRun = await waitForSettled(queue.manager.queue, second.id);
  // Not failed (and retried) for a job that exists as intended.
  expect(secondRun.state).toBe('completed');
  expect(secondRun.job.returnvalue).toEqual({ id: 'child-of-both', existed: true });
  expect(await queue.manager.queue.getJobState('child-of-both')).toBe('delayed');
}, 30_000);
