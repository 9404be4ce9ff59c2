/**
 * A write that waits on a lock fails nothing, so the writer says it is waiting: someone holding
 * `LOCK TABLE worker_jobs` (a migration, a long maintenance statement) is visible in the log,
 * and the rows land once the lock is released.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import pino from 'pino';
import type { Redis } from 'ioredis';
import { createAuditAppender, type AuditStore } from '@sluice/db';
import { connectRedis, ioredisSend, sluiceKeys, type ExecutionRecord } from '@sluice/queue';
import { lockWorkerJobs, postgresUnavailable, type TestDatabase } from '../helpers/db.ts';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { openMigratedStore, startWriter, waitFor, type TestWriter } from './support.ts';

// Postgres-only tests are skipped where no Postgres answers (the store is then PGlite).
const noPostgres = (await postgresUnavailable()) !== undefined;

const prefix = uniquePrefix('slow-write');
const keys = sluiceKeys(prefix);
const lines: { msg: string; waitingMs?: number }[] = [];
const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
let db: TestDatabase;
let store: AuditStore;
let redis: Redis;
let writer: TestWriter | undefined;

beforeAll(async () => {
  ({ db, store } = await openMigratedStore('postgres', 'slow-write'));
  redis = await connectRedis(testConfig().redis.url, { role: 'producer' });
}, 30_000);

afterAll(async () => {
  await writer?.stop();
  await redis?.del(keys.auditStream);
  redis?.disconnect();
  await store?.close();
  await db?.drop();
});

// A second session holding a lock needs a real Postgres.
test.skipIf(noPostgres)('a write held up by a table lock is logged while it waits, and its row lands after the lock is released', async () => {
  const now = Date.now();
  const held: ExecutionRecord = {
    executionId: `locked:1:${now}`, jobId: 'locked', type: 'echo', userId: null, data: {}, result: { ok: true },
    status: 'completed', attempt: 1, willRetry: false, worker: 'host:1', queuedAt: now - 2, startedAt: now - 1, completedAt: now, durationMs: 1,
  };
  // The write must meet the lock: under load the writer could otherwise get in first.
  const lock = await lockWorkerJobs(db.env.DATABASE_URL);
  try {
    writer = await startWriter(store, testConfig({ QUEUE_PREFIX: prefix, ...db.env }), { log, slowWriteMs: 300 });
    await createAuditAppender({ send: ioredisSend(redis), streamKey: keys.auditStream }).append(held);

    const waiting = await waitFor('the writer to log that it waits for the store', () =>
      lines.find((line) => line.msg === 'audit write still waiting for the store (a lock on worker_jobs, or an overloaded server?); records wait in redis'),
    );
    expect(waiting.waitingMs).toBeGreaterThanOrEqual(300);
    expect(await redis.xlen(keys.auditStream)).toBe(1);
  } finally {
    await lock.release();
  }
  await waitFor('the row after the lock is released', async () => (await store.getJobHistory({ jobId: 'locked' })).rows.length === 1);
  await waitFor('the stream entry to be removed', async () => (await redis.xlen(keys.auditStream)) === 0);
}, 30_000);
