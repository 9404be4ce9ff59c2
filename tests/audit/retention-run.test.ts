/**
 * A retention run (what `cleanupAuditLog` asks the writer for) over many rows does not hold up
 * the audit trail: new executions land while it deletes, and the job's wait outlasts the
 * 300 s it gives a writer to take the request on.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import postgres from 'postgres';
import type { Redis } from 'ioredis';
import { AuditRetentionFailedError, AuditWriterSilentError, createAuditAppender, createAuditMaintenanceClient, openAuditStore, type AuditStore } from '@sluice/db';
import { connectRedis, ioredisSend, sluiceKeys, type ExecutionRecord } from '@sluice/queue';
import { postgresUnavailable, type TestDatabase } from '../helpers/db.ts';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { openMigratedStore, startWriter, waitFor, type TestWriter } from './support.ts';

// Postgres-only tests are skipped where no Postgres answers (the store is then PGlite).
const noPostgres = (await postgresUnavailable()) !== undefined;

const prefix = uniquePrefix('retention-run');
const keys = sluiceKeys(prefix);
const EXPIRED = 5000;
let db: TestDatabase;
let store: AuditStore;
let redis: Redis;
let writer: TestWriter | undefined;
let probe: postgres.Sql;

beforeAll(async () => {
  ({ db, store } = await openMigratedStore('postgres', 'retention-run'));
  // Like a worker's connection: the maintenance client duplicates it for its blocking wait.
  redis = await connectRedis(testConfig().redis.url, { role: 'blocking' });
  // A second session, for the Postgres-only tests (postgres('') would try localhost:5432).
  if (db.kind === 'postgres') probe = postgres(db.env.DATABASE_URL, { max: 1, onnotice: () => {} });
}, 30_000);

afterAll(async () => {
  await writer?.stop();
  await redis?.del(keys.auditStream);
  redis?.disconnect();
  await probe?.end();
  await store?.close();
  await db?.drop();
});

// Timing between two sessions needs a real Postgres.
test.skipIf(noPostgres)('rows keep landing while a retention run deletes, and the run answers with every row it deleted', async () => {
  await probe`insert into worker_jobs (execution_id, job_id, type, data, status, attempt, worker, queued_at, started_at, completed_at, duration_ms, created_at)
      select 'old:' || g, 'old-' || g, 'echo', '{}', 'completed', 1, 'h:1', now(), now(), now(), 1, now() - interval '40 days'
      from generate_series(1, ${EXPIRED}) g`;
  writer = await startWriter(store, testConfig({ QUEUE_PREFIX: prefix, ...db.env }));
  const maintenance = createAuditMaintenanceClient({ redis, keys });
  const cutoff = new Date(Date.now() - 30 * 86_400_000);
  // One row per DELETE: 5000 statements, seconds of work, well past the 1 s each request gives
  // a writer to take it on: once taken on, the wait lasts until the answer.
  const run = maintenance.deleteExecutionsBefore(cutoff, { batchSize: 1, timeoutMs: 1000 });
  // A second request queued behind it is taken on too, not refused as if no writer ran.
  const queued = maintenance.deleteExecutionsBefore(cutoff, { batchSize: 1000, timeoutMs: 1000 });
  let answered = false;
  void run.finally(() => (answered = true)).catch(() => {});
  await waitFor('the retention run to be deleting', async () => (await countOld()) < EXPIRED);

  const now = Date.now();
  const fresh: ExecutionRecord = {
    executionId: `fresh:1:${now}`, jobId: 'fresh', type: 'echo', userId: null, data: {}, result: { ok: true },
    status: 'completed', attempt: 1, willRetry: false, worker: 'host:1', queuedAt: now - 2, startedAt: now - 1, completedAt: now, durationMs: 1,
  };
  await createAuditAppender({ send: ioredisSend(redis), streamKey: keys.auditStream }).append(fresh);
  await waitFor('the new execution to land', async () => (await store.getJobHistory({ jobId: 'fresh' })).rows.length === 1);
  // Before, the run held up the pipeline: the new row waited until every old row was gone.
  expect(answered).toBe(false);
  expect(await countOld()).toBeGreaterThan(0);

  expect(await run).toBe(EXPIRED);
  expect(await queued).toBe(0);
  expect(await countOld()).toBe(0);
  expect((await store.getJobHistory({ jobId: 'fresh' })).rows).toHaveLength(1);
}, 120_000);

// Roles need a real Postgres.
test.skipIf(noPostgres)('a retention run the database refuses is answered with the reason at once, and does not mark the store down', async () => {
  const role = `sluice_nodelete_${crypto.randomUUID().slice(0, 8)}`;
  await probe.unsafe(`create role ${role} login`);
  await probe.unsafe(`grant usage on schema public to ${role}`);
  await probe.unsafe(`grant select, insert on worker_jobs to ${role}`);
  await probe.unsafe(`grant usage on all sequences in schema public to ${role}`);
  const url = new URL(db.env.DATABASE_URL);
  url.username = role;
  const env = { QUEUE_PREFIX: uniquePrefix('retention-refused'), ...db.env, DATABASE_URL: url.toString() };
  const roleStore = await openAuditStore(testConfig(env));
  const roleWriter = await startWriter(roleStore, testConfig(env));
  try {
    const maintenance = createAuditMaintenanceClient({ redis, keys: sluiceKeys(env.QUEUE_PREFIX) });
    const refused = await maintenance.deleteExecutionsBefore(new Date(), { batchSize: 100, timeoutMs: 5000 }).catch((error) => error);
    // Before, it was retried as an outage for good, and the job waited out its 30 minutes.
    expect(refused).toBeInstanceOf(AuditRetentionFailedError);
    expect(refused.message).toContain('permission denied for table worker_jobs');
    expect(roleWriter.writer.stats().storeDown).toBe(false);
  } finally {
    await roleWriter.stop();
    await roleStore.close();
    await redis.del(sluiceKeys(env.QUEUE_PREFIX).auditStream);
    await probe.unsafe(`drop owned by ${role}`);
    await probe.unsafe(`drop role ${role}`);
  }
}, 60_000);

/** Old rows still in the table, counted on a connection of the test's own. */
async function countOld(): Promise<number> {
  const [row] = await probe<{ n: number }[]>`select count(*)::int as n from worker_jobs where job_id like 'old-%'`;
  return row!.n;
}

/** Plays a writer taking the retention request on: its reply list, once the request is in the stream. */
const takeRequest = (streamKey: string) =>
  waitFor('the request in the stream', async () => {
    const [entry] = await redis.xrange(streamKey, '-', '+');
    return entry ? entry[1][entry[1].indexOf('reply') + 1] : undefined;
  });

test('a writer that took a retention request on and then died is given up on after its silence, not the job timeout', async () => {
  const deadKeys = sluiceKeys(uniquePrefix('retention-dead'));
  const maintenance = createAuditMaintenanceClient({ redis, keys: deadKeys });
  const run = maintenance.deleteExecutionsBefore(new Date(), { batchSize: 10, timeoutMs: 60_000, silenceMs: 300 });
  // Play the writer: take the request from the stream, say it was taken on, then die.
  const replyTo = await takeRequest(deadKeys.auditStream);
  await redis.rpush(replyTo!, JSON.stringify({ started: true, heartbeatMs: 100 }));
  expect(run).rejects.toThrow(AuditWriterSilentError);
  await run.catch(() => {});
  await redis.del(deadKeys.auditStream, replyTo!);
});

test('a writer from before the repeats (a rolling upgrade) says started once and is waited for, not given up on', async () => {
  const oldKeys = sluiceKeys(uniquePrefix('retention-old'));
  const maintenance = createAuditMaintenanceClient({ redis, keys: oldKeys });
  const run = maintenance.deleteExecutionsBefore(new Date(), { batchSize: 10, timeoutMs: 60_000, silenceMs: 300 });
  const replyTo = await takeRequest(oldKeys.auditStream);
  await redis.rpush(replyTo!, JSON.stringify({ started: true }));
  await Bun.sleep(1000); // more than three times the silence limit, without a word
  await redis.rpush(replyTo!, JSON.stringify({ deleted: 7 }));
  expect(await run).toBe(7);
  await redis.del(oldKeys.auditStream, replyTo!);
});

// A lock held by another session needs a real Postgres.
test.skipIf(noPostgres)('a live writer whose deletion waits on a lock keeps telling the job so; the job waits past its silence limit', async () => {
  const livePrefix = uniquePrefix('retention-live');
  const liveKeys = sluiceKeys(livePrefix);
  await probe`insert into worker_jobs (execution_id, job_id, type, data, status, attempt, worker, queued_at, started_at, completed_at, duration_ms, created_at)
      select 'held:' || g, 'held-' || g, 'echo', '{}', 'completed', 1, 'h:1', now(), now(), now(), 1, now() - interval '40 days'
      from generate_series(1, 10) g`;
  const live = await startWriter(store, testConfig({ QUEUE_PREFIX: livePrefix, ...db.env }), { retentionHeartbeatMs: 100 });
  try {
    let locked!: () => void;
    const lockHeld = new Promise<void>((resolve) => (locked = resolve));
    // The DELETE waits for this lock for 5 s, more than three times the job's silence limit,
    // which is still fifteen heartbeats: a loaded machine may hold one heartbeat up for a while.
    const holder = probe.begin(async (sql) => {
      await sql`lock table worker_jobs in share row exclusive mode`;
      locked();
      await Bun.sleep(5000);
    });
    await lockHeld;
    const maintenance = createAuditMaintenanceClient({ redis, keys: liveKeys });
    const deleted = await maintenance.deleteExecutionsBefore(new Date(Date.now() - 30 * 86_400_000), { batchSize: 100, timeoutMs: 20_000, silenceMs: 1500 });
    await holder;
    expect(deleted).toBe(10);
  } finally {
    await live.stop();
    await redis.del(liveKeys.auditStream);
  }
}, 30_000);
