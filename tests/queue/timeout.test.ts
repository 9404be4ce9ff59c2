/** A definition's timeoutMs fails the attempt and aborts the handler's signal. In-process worker, injected registry. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { Type } from '@sinclair/typebox';
import { defineJob } from '@sluice/jobs';
import type { ExecutionRecord } from '@sluice/queue';
import { openInProcessWorker, waitForSettled, type InProcessWorker, type TestQueue } from '../helpers/queue.ts';
import { waitFor } from '../helpers/wait.ts';

const TIMEOUT_MS = 300;
const abortReasons: unknown[] = [];
/** What `late` saw when it first looked at its signal, after its timeout had passed. */
let lateSignal: { aborted: boolean; reason: string } | null = null;

const NoData = Type.Object({}, { additionalProperties: false });
type Run = Parameters<typeof defineJob<typeof NoData, unknown>>[0]['run'];
/** A normal-priority job without data; `timeoutMs` undefined means none. */
const job = (description: string, timeoutMs: number | undefined, run: Run) => defineJob({ description, schema: NoData, priority: 'normal', timeoutMs, run });

/** Holds the event loop, as CPU-bound work does: no timer or other job runs meanwhile. */
function holdLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const registry = {
  hang: job('Waits until its signal aborts; never finishes on its own.', TIMEOUT_MS, ({ ctx }) =>
    new Promise<never>((_, reject) => {
      ctx.signal.addEventListener('abort', () => {
        abortReasons.push(ctx.signal.reason);
        reject(ctx.signal.reason);
      });
    }),
  ),
  late: job('Ignores its signal until well past its timeout, then looks.', 100, async ({ ctx }) => {
    await Bun.sleep(250);
    lateSignal = { aborted: ctx.signal.aborted, reason: (ctx.signal.reason as Error)?.name };
  }),
  busy: job('Holds the event loop past its timeout, so no timer can fire, then returns.', 100, async () => {
    holdLoop(300);
    return { finished: true };
  }),
  slowStart: job('Works 250 ms before its first await, then waits 250 ms more: 500 ms in all, against a 400 ms timeout.', 400, async () => {
    holdLoop(250);
    await Bun.sleep(250);
    return { finished: true };
  }),
  patient: job('Waits 300 ms, well inside its timeout.', 1000, async () => {
    await Bun.sleep(300);
    return { finished: true };
  }),
  hog: job('Holds the event loop for 1.5 s; has no timeout of its own.', undefined, async () => {
    await Bun.sleep(50);
    holdLoop(1500);
    return { finished: true };
  }),
};

let fixture: InProcessWorker<typeof registry>;
let queue: TestQueue<typeof registry>;
const records: ExecutionRecord[] = [];

beforeAll(async () => {
  fixture = await openInProcessWorker('timeout', registry, { onExecution: (record) => void records.push(record), env: { WORKER_QUEUE_CONCURRENCY: '2' } });
  queue = fixture.queue;
}, 30_000);
afterAll(async () => {
  await fixture?.close();
}, 30_000);

test('an attempt running past timeoutMs fails with a timeout error and its signal is aborted', async () => {
  const { id } = await queue.manager.submit('hang', {}, { attempts: 1 });

  const { job, state } = await waitForSettled(queue.manager.queue, id);
  expect(state).toBe('failed');

  expect(job.failedReason).toBe(`job timed out after ${TIMEOUT_MS} ms`);
  expect(job.attemptsMade).toBe(1);
  expect(job.finishedOn! - job.processedOn!).toBeGreaterThanOrEqual(TIMEOUT_MS);
  expect(abortReasons).toHaveLength(1);
  expect((abortReasons[0] as Error).name).toBe('JobTimeoutError');
  expect(records).toHaveLength(1);
  expect(records[0]).toMatchObject({ jobId: id, status: 'failed', willRetry: false, error: { name: 'JobTimeoutError' } });
}, 30_000);

test('a handler that first reads its signal after the timeout finds it already aborted', async () => {
  const { id } = await queue.manager.submit('late', {}, { attempts: 1 });
  const { state } = await waitForSettled(queue.manager.queue, id);
  expect(state).toBe('failed');
  // The attempt failed at 100 ms; the handler keeps running and looks at 250 ms.
  const seen = await waitFor('the handler to look at its signal', () => lateSignal, { timeoutMs: 5000, intervalMs: 10 });
  expect(seen).toEqual({ aborted: true, reason: 'JobTimeoutError' });
}, 30_000);

test('a handler that blocks the event loop past timeoutMs fails with a timeout error, though it returned', async () => {
  const { id } = await queue.manager.submit('busy', {}, { attempts: 1 });
  const { job, state } = await waitForSettled(queue.manager.queue, id);
  expect(state).toBe('failed');
  expect(job.failedReason).toBe('job timed out after 100 ms');
  expect(job.returnvalue).toBeNull();
  expect(records.find((record) => record.jobId === id)).toMatchObject({ status: 'failed', willRetry: false, error: { name: 'JobTimeoutError' } });
}, 30_000);

test("the timeout counts from the handler's call, its own synchronous start included", async () => {
  const { id } = await queue.manager.submit('slowStart', {}, { attempts: 1 });
  const { job, state } = await waitForSettled(queue.manager.queue, id);
  // Before, the timer was set once the synchronous start had returned: it ran 650 ms and completed.
  expect(state).toBe('failed');
  expect(job.failedReason).toBe('job timed out after 400 ms');
}, 30_000);

test('a job that finished its work in time is not failed because another job held the event loop', async () => {
  const patient = await queue.manager.submit('patient', {}, { attempts: 1 });
  const hog = await queue.manager.submit('hog', {}, { attempts: 1 });
  // The hog starts while the patient job sleeps, and blocks until well past its 1 s timeout.
  const [waited, hogged] = await Promise.all([waitForSettled(queue.manager.queue, patient.id), waitForSettled(queue.manager.queue, hog.id)]);
  expect(hogged.state).toBe('completed');
  expect(waited.job.finishedOn! - waited.job.processedOn!).toBeGreaterThan(1000);
  expect(waited.state).toBe('completed');
  expect(waited.job.returnvalue).toEqual({ finished: true });
}, 30_000);
