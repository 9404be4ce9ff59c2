/** A definition's timeoutMs fails the attempt and aborts the handler's signal. In-process worker, injected registry. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { Type } from '@sinclair/typebox';
import { defineJob } from '@sluice/jobs';
import { createLogger } from '@sluice/observability';
import { connectRedis, createJobWorker, type ExecutionRecord, type JobWorker } from '@sluice/queue';
import type { Redis } from 'ioredis';
import { openTestQueue, waitForSettled, type TestQueue } from '../helpers/queue.ts';

const TIMEOUT_MS = 300;
const abortReasons: unknown[] = [];

const registry = {
  hang: defineJob({
    description: 'Waits until its signal aborts; never finishes on its own.',
    schema: Type.Object({}, { additionalProperties: false }),
    priority: 'normal',
    timeoutMs: TIMEOUT_MS,
    run: ({ ctx }) =>
      new Promise<never>((_, reject) => {
        ctx.signal.addEventListener('abort', () => {
          abortReasons.push(ctx.signal.reason);
          reject(ctx.signal.reason);
        });
      }),
  }),
};

let queue: TestQueue<typeof registry>;
let connection: Redis;
let worker: JobWorker;
const records: ExecutionRecord[] = [];

beforeAll(async () => {
  queue = await openTestQueue('timeout', { registry });
  connection = await connectRedis(queue.config.redis.url, { role: 'blocking' });
  worker = createJobWorker({
    config: queue.config,
    registry,
    connection,
    log: createLogger({ level: 'silent', pretty: false }),
    queue: queue.manager,
    onExecution: (record) => void records.push(record),
  });
}, 30_000);
afterAll(async () => {
  await worker?.stop(5000);
  connection?.disconnect();
  await queue?.close();
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
