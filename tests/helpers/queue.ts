/** A QueueManager (and optionally QueueEvents) on a prefix of this test file's own, torn down with its keys. */
import { QueueEvents, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '@sluice/config';
import { jobRegistry, type DefaultRegistry, type JobRegistry } from '@sluice/jobs';
import { createLogger } from '@sluice/observability';
import { connectRedis, createJobWorker, QUEUE_NAME, QueueManager, type ExecutionRecord, type JobWorker } from '@sluice/queue';
import { testConfig, uniquePrefix } from './env.ts';
import { waitFor } from './wait.ts';

export interface TestQueue<R extends JobRegistry = DefaultRegistry> {
  prefix: string;
  config: Config;
  /** Env a worker process needs to serve this queue. */
  env: Record<string, string>;
  manager: QueueManager<R>;
  /** Opened on first use; `job.waitUntilFinished(await t.events())`. */
  events(): Promise<QueueEvents>;
  /** Removes every key under the prefix and closes all connections. */
  close(): Promise<void>;
}

export async function openTestQueue<R extends JobRegistry = DefaultRegistry>(
  label: string,
  options: { env?: Record<string, string>; registry?: R } = {},
): Promise<TestQueue<R>> {
  const prefix = uniquePrefix(label);
  const env = { ...options.env, QUEUE_PREFIX: prefix };
  const config = testConfig(env);
  const manager = await QueueManager.open({ config, registry: (options.registry ?? jobRegistry) as R });
  let events: Promise<{ events: QueueEvents; connection: Redis }> | undefined;

  return {
    prefix,
    config,
    env,
    manager,
    async events() {
      events ??= (async () => {
        // QueueEvents blocks on XREAD, so it gets a blocking connection of its own.
        const connection = await connectRedis(config.redis.url, { role: 'blocking' });
        // Read the prefix's event stream from its start, not from '$': an event written before
        // the first XREAD is issued is then replayed instead of missed. The prefix is this
        // file's alone, so every event seen belongs to it.
        const queueEvents = new QueueEvents(QUEUE_NAME, { connection, prefix, lastEventId: '0-0' });
        await queueEvents.waitUntilReady();
        return { events: queueEvents, connection };
      })();
      return (await events).events;
    },
    async close() {
      if (events) {
        const { events: queueEvents, connection } = await events;
        await queueEvents.close();
        connection.disconnect();
      }
      await manager.queue.obliterate({ force: true });
      await manager.close();
    },
  };
}

/**
 * Polls until job `id` has finished for good (completed, or failed with no retry left) and
 * returns it with that state, so a test asserts the state instead of timing out on the wrong one.
 */
export function waitForSettled(queue: Queue, id: string, timeoutMs = 20_000): Promise<{ job: Job; state: 'completed' | 'failed' }> {
  return waitFor(
    `job ${id} to complete or fail for good`,
    async () => {
      // The state first, then the job: a job read before it settled would lack its result or failedReason.
      const state = await queue.getJobState(id);
      if (state !== 'completed' && state !== 'failed') return false;
      const job = await queue.getJob(id);
      return job ? { job, state } : false;
    },
    { timeoutMs },
  );
}

/** A test queue plus one in-process BullMQ worker running `registry`'s handlers (no subprocess). */
export interface InProcessWorker<R extends JobRegistry> {
  queue: TestQueue<R>;
  worker: JobWorker;
  close(): Promise<void>;
}

export async function openInProcessWorker<R extends JobRegistry>(
  label: string,
  registry: R,
  options: { onExecution?: (record: ExecutionRecord) => void; env?: Record<string, string> } = {},
): Promise<InProcessWorker<R>> {
  const queue = await openTestQueue(label, { registry, env: options.env });
  // BullMQ workers block on their connection.
  const connection = await connectRedis(queue.config.redis.url, { role: 'blocking' });
  const worker = createJobWorker({
    config: queue.config,
    registry,
    connection,
    log: createLogger({ level: 'silent', pretty: false }),
    queue: queue.manager,
    ...(options.onExecution ? { onExecution: options.onExecution } : {}),
  });
  return {
    queue,
    worker,
    async close() {
      await worker.stop(5000);
      connection.disconnect();
      await queue.close();
    },
  };
}
