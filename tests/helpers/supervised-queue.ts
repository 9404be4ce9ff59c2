/** File-wide fixture: a private queue plus a test supervisor whose workers are ready, torn down after the file. */
import { afterAll, beforeAll } from 'bun:test';
import type { Supervisor } from '@sluice/supervisor';
import { startTestSupervisor, stopSupervisor, waitForChildrenReady } from './processes.ts';
import { openTestQueue, type TestQueue } from './queue.ts';

export interface SupervisedQueue {
  /** Set once the file's beforeAll has run: read them inside tests, not at module level. */
  queue: TestQueue;
  supervisor: Supervisor;
}

/** `env` reaches both the queue's Config and the worker processes (e.g. WORKER_COUNT, concurrency). */
export function useSupervisedQueue(label: string, env: Record<string, string> = {}): SupervisedQueue {
  const fixture = {} as SupervisedQueue;
  beforeAll(async () => {
    fixture.queue = await openTestQueue(label, { env });
    fixture.supervisor = startTestSupervisor({ env: fixture.queue.env, count: fixture.queue.config.worker.count });
    await waitForChildrenReady(fixture.supervisor);
  }, 30_000);
  afterAll(async () => {
    await stopSupervisor(fixture.supervisor);
    await fixture.queue?.close();
  }, 30_000);
  return fixture;
}
