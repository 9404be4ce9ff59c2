/** ctx.queue.submit from a handler: a named follow-up job is created once; finding it there is success. In-process worker, injected registry. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { Type } from '@sinclair/typebox';
import { defineJob } from '@sluice/jobs';
import { openInProcessWorker, waitForSettled, type InProcessWorker, type TestQueue } from '../helpers/queue.ts';

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

let fixture: InProcessWorker<typeof registry>;
let queue: TestQueue<typeof registry>;

beforeAll(async () => {
  fixture = await openInProcessWorker('follow-up', registry);
  queue = fixture.queue;
}, 30_000);
afterAll(async () => {
  await fixture?.close();
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
