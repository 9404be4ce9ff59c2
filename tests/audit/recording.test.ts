/** Every execution becomes one row: fields, retries, and a re-run after a worker is SIGKILLed (Postgres path). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { hostname } from 'node:os';
import { migrate, openAuditStore, sql, workerJobs, type AuditStore, type WorkerJob } from '@sluice/db';
import { jobRegistry } from '@sluice/jobs';
import { MAX_JOB_ID_CHARS, MAX_SCHEDULE_KEY_CHARS, QueueManager } from '@sluice/queue';
import type { Supervisor } from '@sluice/supervisor';
import { postgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { startWorkers, startWriter, waitFor, type TestWriter } from './support.ts';

let db: TestDatabase;
let store: AuditStore;
let queue: QueueManager<typeof jobRegistry>;
let writer: TestWriter;
let workers: Supervisor;
const prefix = uniquePrefix('audit-rec');

// Opening a fresh store takes seconds (PGlite, where no Postgres runs: 11-14 s on a loaded
// two-core machine); bun's default 5 s is not a limit this hook can keep.
beforeAll(async () => {
  db = await postgresDatabase('audit_recording');
  const env = { QUEUE_PREFIX: prefix, ...db.env, WORKER_QUEUE_CONCURRENCY: '4' };
  const config = testConfig(env);
  store = await openAuditStore(config);
  await migrate(store);
  queue = await QueueManager.open({ config, registry: jobRegistry });
  writer = await startWriter(store, config);
  workers = await startWorkers(env);
}, 120_000);

afterAll(async () => {
  await workers?.stop();
  await writer?.stop();
  await queue?.queue.obliterate({ force: true });
  await queue?.close();
  await store?.close();
  await db?.drop();
}, 120_000);

const rowsOf = async (jobId: string): Promise<WorkerJob[]> =>
  (await store.getJobHistory({ jobId, limit: 100 })).rows.sort((a, b) => a.attempt - b.attempt || a.id - b.id);

describe('audit recording (Postgres path)', () => {
  test('a completed execution is recorded with its data, result, timings and worker', async () => {
    const { id } = await queue.submit('echo', { message: 'hello audit', sleepMs: 40 }, { userId: 'user-7' });
    const [row] = await waitFor('the completed row', async () => {
      const rows = await rowsOf(id);
      return rows.length === 1 && rows;
    });
    const pids = workers.snapshot().map((c) => c.pid);
    expect(row!.status).toBe('completed');
    expect(row!.type).toBe('echo');
    expect(row!.userId).toBe('user-7');
    expect(row!.attempt).toBe(1);
    expect(row!.willRetry).toBe(false);
    expect(row!.data).toEqual({ message: 'hello audit', sleepMs: 40 });
    expect(row!.result).toMatchObject({ message: 'hello audit' });
    expect(row!.error).toBeNull();
    expect(row!.durationMs).toBeGreaterThanOrEqual(40);
    expect(row!.worker).toBe(`${hostname()}:${(row!.result as { pid: number }).pid}`);
    expect(pids).toContain((row!.result as { pid: number }).pid);
    expect(row!.queuedAt.getTime()).toBeLessThanOrEqual(row!.startedAt.getTime());
    expect(row!.completedAt.getTime() - row!.startedAt.getTime()).toBe(row!.durationMs);
    expect(row!.executionId.startsWith(`${id}:`)).toBe(true);
  });

  test('a failed execution is recorded with its error text and no retry', async () => {
    const { id } = await queue.submit('echo', { message: 'doomed', failPermanently: true }, { attempts: 3 });
    const [row] = await waitFor('the failed row', async () => {
      const rows = await rowsOf(id);
      return rows.length === 1 && rows;
    });
    expect(row!.status).toBe('failed');
    expect(row!.willRetry).toBe(false);
    expect(row!.error?.message).toBe('echo failing permanently on purpose');
    expect(row!.error?.stack).toContain('echo failing permanently on purpose');
    expect(row!.result).toBeNull();
    expect(row!.worker).toMatch(new RegExp(`^${hostname()}:\\d+$`));
  });

  test('the longest job id and schedule key allowed get their rows; longer ones are refused when submitted', async () => {
    // Three UTF-8 bytes a character: Postgres refuses index entries over about 2.7 kB, and
    // before the limit an id this long had every execution's record parked.
    const jobId = '€'.repeat(MAX_JOB_ID_CHARS);
    const { id } = await queue.submit('echo', { message: 'long id' }, { jobId });
    expect(id).toBe(jobId);
    await waitFor('the long id row', async () => (await rowsOf(jobId)).length === 1);
    await expect(queue.submit('echo', { message: 'x' }, { jobId: `${jobId}€` })).rejects.toThrow(`jobId must be at most ${MAX_JOB_ID_CHARS} characters (it has ${MAX_JOB_ID_CHARS + 1})`);

    const key = '€'.repeat(MAX_SCHEDULE_KEY_CHARS);
    await queue.scheduleCron('echo', { everyMs: 60_000 }, { message: 'long key' }, key);
    try {
      await waitFor('the long key row', async () => (await store.getJobHistory({ type: 'echo', limit: 100 })).rows.some((row) => row.jobId.includes(key)));
    } finally {
      await queue.removeCron(key);
    }
    await expect(queue.scheduleCron('echo', { everyMs: 60_000 }, { message: 'x' }, `${key}€`)).rejects.toThrow(`schedule key must be at most ${MAX_SCHEDULE_KEY_CHARS} characters`);
  });

  test('a job that fails twice then succeeds has three rows, attempts 1..3', async () => {
    const { id } = await queue.submit('echo', { message: 'third time lucky', failTimes: 2 }, { attempts: 3 });
    const rows = await waitFor('three rows', async () => {
      const rows = await rowsOf(id);
      return rows.length >= 3 && rows;
    }, 30_000);
    expect(rows.map((r) => [r.attempt, r.status, r.willRetry])).toEqual([
      [1, 'failed', true],
      [2, 'failed', true],
      [3, 'completed', false],
    ]);
    expect(rows[0]!.error?.message).toContain('attempt 1 of 2 planned failures');
    expect(new Set(rows.map((r) => r.executionId)).size).toBe(3);
  }, 40_000);

  test('a worker SIGKILLed mid-run: the run that completes after stall recovery is recorded', async () => {
    const { id } = await queue.submit('echo', { message: 'survivor', sleepMs: 1500 });
    const victim = await waitFor('the job to be running', async () => {
      const job = await queue.queue.getJob(id);
      return (await job?.getState()) === 'active' && workers.snapshot().find((c) => c.activeJobs > 0)?.pid;
    });
    process.kill(victim, 'SIGKILL');
    const rows = await waitFor('the recovered run to be recorded', async () => {
      const rows = await rowsOf(id);
      return rows.some((r) => r.status === 'completed') && rows;
    }, 40_000);
    // The killed run never finished, so it has no row; the re-run has exactly one.
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe('completed');
    expect(rows[0]!.worker).not.toBe(`${hostname()}:${victim}`);
  }, 60_000);

  test('a job whose workers die under it twice fails for good, and that failure has its row', async () => {
    // BullMQ allows one stall; after the second it fails the job on the next fetch, without running it.
    const { id } = await queue.submit('echo', { message: 'doomed', sleepMs: 30_000 }, { attempts: 1 });
    for (let kill = 1; kill <= 2; kill++) {
      const victim = await waitFor(`run ${kill} to be running`, async () => {
        const job = await queue.queue.getJob(id);
        return job?.attemptsStarted === kill && (await job.getState()) === 'active' && workers.snapshot().find((c) => c.activeJobs > 0 && c.state === 'ready')?.pid;
      }, 40_000);
      process.kill(victim, 'SIGKILL');
    }
    const rows = await waitFor('the final failure to be recorded', async () => {
      const rows = await rowsOf(id);
      return rows.length > 0 && rows;
    }, 60_000);
    // The two killed runs never finished, so they have no rows; the failure BullMQ decided has one.
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'failed', willRetry: false, durationMs: 0, error: { name: 'UnrecoverableError', message: 'job stalled more than allowable limit' } });
    expect(rows[0]!.executionId).toBe(`${id}:3:${(await queue.queue.getJob(id))!.timestamp}`);
    expect(await queue.queue.getJobState(id)).toBe('failed');
  }, 120_000);

  test('cleanupAuditLog deletes only rows past the retention', async () => {
    const at = new Date();
    const seed = (jobId: string) => ({ executionId: `${jobId}:1:1`, jobId, type: 'echo', status: 'completed' as const, attempt: 1, worker: 'seed:1', queuedAt: at, startedAt: at, completedAt: at, durationMs: 1 });
    await store.insertExecutions([seed('old-a'), seed('old-b'), seed('young')]);
    await store.db.update(workerJobs).set({ createdAt: sql`now() - interval '31 days'` }).where(sql`${workerJobs.jobId} in ('old-a', 'old-b')`);
    await store.db.update(workerJobs).set({ createdAt: sql`now() - interval '29 days'` }).where(sql`${workerJobs.jobId} = 'young'`);

    const { id } = await queue.submit('cleanupAuditLog', { retentionDays: 30, batchSize: 1 });
    const job = await queue.queue.getJob(id);
    await waitFor('cleanupAuditLog to finish', async () => (await job!.getState()) === 'completed');
    expect((await queue.queue.getJob(id))!.returnvalue).toMatchObject({ deleted: 2, retentionDays: 30 });
    expect((await rowsOf('old-a')).length + (await rowsOf('old-b')).length).toBe(0);
    expect(await rowsOf('young')).toHaveLength(1);
    expect(await waitFor('the cleanup run itself to be recorded', async () => (await rowsOf(id)).length === 1)).toBe(true);
  });
});
