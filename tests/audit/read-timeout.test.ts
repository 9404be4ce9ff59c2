/**
 * Audit reads run on connections of their own, with AUDIT_READ_TIMEOUT as Postgres's
 * statement_timeout: a read past it is cancelled by Postgres and reported by name, and reads
 * stuck on every read connection hold up neither the writer nor the readiness ping.
 */
import { afterAll, afterEach, beforeAll, expect, test } from 'bun:test';
import postgres from 'postgres';
import type { Redis } from 'ioredis';
import { AuditQueryTimeoutError, createAuditAppender, openAuditStore, sql, type AuditStore } from '@sluice/db';
import { connectRedis, ioredisSend, sluiceKeys, type ExecutionRecord } from '@sluice/queue';
import { lockWorkerJobs, postgresUnavailable, type TestDatabase } from '../helpers/db.ts';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { openMigratedStore, startWriter, waitFor, type TestWriter } from './support.ts';

// Postgres-only tests are skipped where no Postgres answers (the store is then PGlite).
const noPostgres = (await postgresUnavailable()) !== undefined;

const prefix = uniquePrefix('read-timeout');
const keys = sluiceKeys(prefix);
let db: TestDatabase;
let admin: postgres.Sql;
let redis: Redis;
const opened: AuditStore[] = [];
let writer: TestWriter | undefined;

beforeAll(async () => {
  const migrated = await openMigratedStore('postgres', 'read-timeout');
  db = migrated.db;
  // Each test opens the store with the read timeout it needs.
  await migrated.store.close();
  if (db.kind === 'postgres') admin = postgres(db.env.DATABASE_URL, { max: 1, onnotice: () => {} });
  redis = await connectRedis(testConfig().redis.url, { role: 'producer' });
}, 30_000);

afterEach(async () => {
  await writer?.stop();
  writer = undefined;
});

afterAll(async () => {
  for (const store of opened) await store.close();
  await redis?.del(keys.auditStream);
  redis?.disconnect();
  await admin?.end();
  await db?.drop();
});

async function open(readTimeoutMs: number): Promise<AuditStore> {
  const store = await openAuditStore(testConfig({ ...db.env, QUEUE_PREFIX: prefix, AUDIT_READ_TIMEOUT: String(readTimeoutMs) }));
  opened.push(store);
  return store;
}


const activeReads = async () =>
  (await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where application_name = 'sluice-audit-read' and state = 'active'`)[0]!.n;

test('a read timeout under 100 ms is refused when the store opens, before any connection', async () => {
  // Postgres would cancel the read connections' own start-up query too, which postgres.js leaves unhandled.
  await expect(openAuditStore(testConfig({ ...db.env, QUEUE_PREFIX: prefix }), { readTimeoutMs: 1 })).rejects.toThrow('readTimeoutMs must be 0 (no limit) or a whole number of ms from 100, got 1');
});

// PGlite does not enforce statement_timeout (README: Where the table lives).
test.skipIf(noPostgres)('a read past AUDIT_READ_TIMEOUT is cancelled by Postgres and named, with what to narrow', async () => {
  const store = await open(300);
  // A lock makes the reads wait past the timeout: deterministic, whatever the machine's speed.
  const lock = await lockWorkerJobs(db.env.DATABASE_URL);
  try {
    const health = await store.getHealth({ windowMs: 3_600_000 }).catch((e) => e);
    expect(health).toBeInstanceOf(AuditQueryTimeoutError);
    expect(health).toMatchObject({ name: 'AuditQueryTimeoutError', code: 'AUDIT_QUERY_TIMEOUT', query: 'health', timeoutMs: 300 });
    expect(health.message).toBe(
      'the audit health query ran longer than 300 ms and Postgres cancelled it (AUDIT_READ_TIMEOUT): use a shorter windowMs, or raise AUDIT_READ_TIMEOUT',
    );
    const history = await store.getJobHistory({ limit: 10 }).catch((e) => e);
    expect(history).toBeInstanceOf(AuditQueryTimeoutError);
    expect(history.message).toContain('the audit history query ran longer than 300 ms');
    expect(history.message).toContain('filter by type, status or jobId, or give a since/until range');
    const metrics = await store.getJobMetrics({ type: 'echo', windowMs: 60_000 }).catch((e) => e);
    expect(metrics).toBeInstanceOf(AuditQueryTimeoutError);
    // Cancelled in the server, not merely abandoned by the client: no read is left running.
    expect(await activeReads()).toBe(0);
  } finally {
    await lock.release();
  }
  expect((await store.getJobHistory({ limit: 1 })).rows).toEqual([]);
}, 30_000);

// The embedded store has one connection for everything (README: Where the table lives).
test.skipIf(noPostgres)('reads stuck on every read connection hold up neither the writer nor the readiness ping', async () => {
  const store = await open(120_000);
  // Seven at once, as seven /health calls were when they starved the shared pool.
  const stuck = Array.from({ length: 7 }, () => store.readDb.execute(sql`select pg_sleep(600)`).then(() => 'finished', () => 'cancelled'));
  let healthSettled = false;
  const health = store.getHealth().finally(() => (healthSettled = true));
  await waitFor('both read connections to be busy sleeping', async () => (await activeReads()) === 2);

  expect((await store.ping(2000)).status).toBe('up');
  writer = await startWriter(store, testConfig({ ...db.env, QUEUE_PREFIX: prefix }));
  const now = Date.now();
  const record: ExecutionRecord = {
    executionId: `while-stuck:1:${now}`, jobId: 'while-stuck', type: 'echo', userId: null, data: {}, result: { ok: true },
    status: 'completed', attempt: 1, willRetry: false, worker: 'host:1', queuedAt: now - 2, startedAt: now - 1, completedAt: now, durationMs: 1,
  };
  await createAuditAppender({ send: ioredisSend(redis), streamKey: keys.auditStream }).append(record);
  // Read through the writer's connections: the read ones are all taken.
  await waitFor('the row to land while the reads are stuck', async () => {
    const rows = await store.db.execute(sql`select 1 from worker_jobs where job_id = 'while-stuck'`);
    return (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows).length === 1;
  });
  expect(await activeReads()).toBe(2);
  expect(healthSettled).toBe(false);

  // Cancel the sleeps; the ones queued behind them start and are cancelled in turn.
  const outcomes = Promise.all(stuck);
  let done = false;
  void outcomes.then(() => (done = true));
  await waitFor('every stuck read to be cancelled', async () => {
    await admin`select pg_cancel_backend(pid) from pg_stat_activity where application_name = 'sluice-audit-read' and query like '%pg_sleep%' and state = 'active'`;
    return done;
  });
  expect(await outcomes).toEqual(Array(7).fill('cancelled'));
  expect((await health).map((h) => h.type)).toEqual(['echo']);
}, 60_000);
