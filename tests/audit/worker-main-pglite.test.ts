/**
 * `bun run worker` on the embedded store: it migrates PGlite at start, runs the audit writer
 * beside its workers, answers cleanupAuditLog, and flushes every record before it exits.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { AuditStoreBusyError, migrate, openAuditStore, sql, workerJobs, type NewWorkerJob } from '@sluice/db';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager } from '@sluice/queue';
import { pgliteDatabase, type TestDatabase } from '../helpers/db.ts';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { waitFor } from './support.ts';

const WORKER_MAIN = resolve(import.meta.dir, '../../apps/worker/src/main.ts');
const prefix = uniquePrefix('audit-main');
let db: TestDatabase;
let env: Record<string, string>;
let queue: QueueManager<typeof jobRegistry>;
let worker: Subprocess | null = null;

const seeded = (jobId: string): NewWorkerJob => {
  const at = new Date();
  return { executionId: `${jobId}:1:1`, jobId, type: 'echo', data: {}, status: 'completed', attempt: 1, worker: 'seed:1', queuedAt: at, startedAt: at, completedAt: at, durationMs: 1 };
};

beforeAll(async () => {
  db = pgliteDatabase('audit-main');
  env = { QUEUE_PREFIX: prefix, ...db.env, WORKER_COUNT: '1', WORKER_QUEUE_CONCURRENCY: '4', AUDIT_LOG_RETENTION_DAYS: '30', LOG_LEVEL: 'fatal' };
  // Seed two rows before the worker owns the directory: one past retention, one recent.
  const store = await openAuditStore(testConfig(env));
  await migrate(store);
  await store.insertExecutions([seeded('seed-old'), seeded('seed-new')]);
  await store.db.update(workerJobs).set({ createdAt: sql`now() - interval '45 days'` }).where(sql`${workerJobs.jobId} = 'seed-old'`);
  await store.close();
  queue = await QueueManager.open({ config: testConfig(env), registry: jobRegistry });
  worker = Bun.spawn([process.execPath, WORKER_MAIN], { env: testEnv(env), stdout: 'inherit', stderr: 'inherit' });
}, 30_000);

afterAll(async () => {
  worker?.kill('SIGKILL');
  await queue?.queue.obliterate({ force: true });
  await queue?.close();
  await db?.drop();
});

test('bun run worker records executions into PGlite, prunes on request, and flushes on stop', async () => {
  const ok = await queue.submit('echo', { message: 'embedded' });
  const flaky = await queue.submit('echo', { message: 'flaky', failTimes: 1 }, { attempts: 2 });
  const job = await queue.queue.getJob(ok.id);
  await waitFor('the echo job to complete', async () => (await job!.getState()) === 'completed', 30_000);

  // The directory belongs to the running worker: a second process is refused, not let in to corrupt it.
  const busy = await openAuditStore(testConfig(env)).catch((e) => e);
  expect(busy).toBeInstanceOf(AuditStoreBusyError);
  expect(busy.ownerPid).toBe(worker!.pid);

  const cleanup = await queue.submit('cleanupAuditLog', {});
  const cleanupJob = await queue.queue.getJob(cleanup.id);
  await waitFor('cleanupAuditLog to finish', async () => (await cleanupJob!.getState()) === 'completed', 30_000);
  expect((await queue.queue.getJob(cleanup.id))!.returnvalue).toMatchObject({ deleted: 1, retentionDays: 30 });
  await waitFor('the flaky job to succeed on its retry', async () => (await (await queue.queue.getJob(flaky.id))!.getState()) === 'completed', 30_000);

  worker!.kill('SIGTERM');
  expect(await worker!.exited).toBe(0);
  worker = null;

  const store = await openAuditStore(testConfig(env));
  try {
    const rows = (await store.getJobHistory({ limit: 100 })).rows;
    const byJob = (id: string) => rows.filter((r) => r.jobId === id).map((r) => `${r.attempt}:${r.status}`).sort();
    expect(byJob(ok.id)).toEqual(['1:completed']);
    expect(byJob(flaky.id)).toEqual(['1:failed', '2:completed']);
    expect(byJob(cleanup.id)).toEqual(['1:completed']);
    expect(byJob('seed-new')).toEqual(['1:completed']);
    expect(byJob('seed-old')).toEqual([]);
  } finally {
    await store.close();
  }
}, 60_000);
