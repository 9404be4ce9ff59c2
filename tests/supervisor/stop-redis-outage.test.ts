/**
 * SIGTERM to `bun run worker` while Redis is down and a job finishes during the outage: its
 * completion waits in the client, so the stop waits for Redis (up to the shutdown timeout)
 * instead of taking the "Redis is gone, nothing to wait for" shortcut, and once Redis is back
 * the job is completed, not left for a second run.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { openAuditStore } from '@sluice/db';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager } from '@sluice/queue';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { freePort } from '../helpers/ports.ts';
import { killIfRunning, spawnWorkerMain, type WorkerMainProcess } from '../helpers/processes.ts';
import { waitFor, within } from '../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-stop-outage-'));
const prefix = uniquePrefix('stop-outage');
let port: number;
let redis: Subprocess | undefined;
let queue: QueueManager<typeof jobRegistry> | undefined;
let worker: WorkerMainProcess | undefined;

/** A redis-server that keeps its data across a restart (append-only file in `dir`). */
async function startRedis(): Promise<void> {
  redis = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], { stdout: 'ignore', stderr: 'inherit' });
  await waitFor('redis-server to answer', () => Bun.spawnSync(['redis-cli', '-p', String(port), 'ping']).stdout.toString().trim() === 'PONG');
}

async function stopRedis(): Promise<void> {
  redis?.kill('SIGTERM'); // a clean shutdown writes the append-only file
  await redis?.exited;
}

beforeAll(async () => {
  port = await freePort();
  await startRedis();
}, 30_000);

afterAll(async () => {
  await killIfRunning(worker?.proc);
  await queue?.close().catch(() => {});
  await stopRedis();
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

test('a job that finished during the outage is completed once Redis is back, and the worker then exits 0', async () => {
  const env = {
    REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: prefix, DATA_DIR: join(dir, 'data'), WORKER_COUNT: '1', LOG_LEVEL: 'info',
    // Long enough that the job keeps its lock through the outage: this is not about stall recovery.
    WORKER_QUEUE_LOCK_DURATION: '30000', WORKER_QUEUE_STALLED_INTERVAL: '30000', WORKER_SHUTDOWN_TIMEOUT: '30000',
  };
  worker = spawnWorkerMain(env);
  queue = await QueueManager.open({ config: testConfig(env), registry: jobRegistry });
  const { id } = await queue.submit('echo', { message: 'finished in the dark', sleepMs: 1500 });
  await waitFor('the job to be active', async () => (await queue!.queue.getJob(id))?.processedOn !== undefined, { timeoutMs: 20_000 });

  await stopRedis();
  worker.proc.kill('SIGTERM');
  await waitFor('the handler to finish during the outage', () => worker!.stdout().includes('"msg":"job completed"'), { timeoutMs: 20_000 });
  // Nothing runs, but the completion waits in the client: before, the worker exited a second later and dropped it.
  const exitedEarly = await Promise.race([worker.exited.then(() => true), Bun.sleep(2500).then(() => false)]);
  expect(exitedEarly).toBe(false);

  await startRedis();
  expect(await within('the worker to exit', worker.exited, 40_000)).toBe(0);
  expect(worker.stdout()).not.toContain('redis closed the connection and no job is running or finishing');
  const job = (await queue.queue.getJob(id))!;
  expect(await job.getState()).toBe('completed');
  expect(job.returnvalue.message).toBe('finished in the dark');

  // Its one execution has its one row (the worker's writer flushed it before exiting).
  const store = await openAuditStore(testConfig(env));
  try {
    const rows = (await store.getJobHistory({ jobId: id })).rows;
    expect(rows.map((r) => r.status)).toEqual(['completed']);
  } finally {
    await store.close();
  }
}, 90_000);
