/** A writer killed after its insert commits but before it acks: the records are re-delivered, nothing lost, nothing doubled. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { resolve } from 'node:path';
import { countRecords, createAuditAppender, migrate, openAuditStore, sql, workerJobs, type AuditStore } from '@sluice/db';
import { connectRedis, ioredisSend, sluiceKeys, type ExecutionRecord } from '@sluice/queue';
import type { Redis } from 'ioredis';
import { postgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { startWriter, waitFor } from './support.ts';

const RECORDS = 50;
const prefix = uniquePrefix('audit-crash');
const keys = sluiceKeys(prefix);
let db: TestDatabase;
let store: AuditStore;
let redis: Redis;

// Opening a fresh store takes seconds (PGlite, where no Postgres runs: 11-14 s on a loaded
// two-core machine); bun's default 5 s is not a limit this hook can keep.
beforeAll(async () => {
  db = await postgresDatabase('audit_crash');
  store = await openAuditStore(testConfig({ QUEUE_PREFIX: prefix, ...db.env }));
  await migrate(store);
  // The writer subprocess must be able to open the store (PGlite allows one process at a time).
  await store.close();
  redis = await connectRedis(process.env.REDIS_URL!, { role: 'producer' });
}, 120_000);

afterAll(async () => {
  await redis?.del(keys.auditStream, keys.auditParked);
  redis?.disconnect();
  await store?.close();
  await db?.drop();
}, 120_000);

function record(i: number): ExecutionRecord {
  const now = Date.now();
  return {
    executionId: `crash-${i}:1:${now}`, jobId: `crash-${i}`, type: 'echo', userId: null, data: { message: `m${i}` },
    result: { message: `m${i}` }, status: 'completed', attempt: 1, willRetry: false, worker: 'test:1',
    queuedAt: now - 5, startedAt: now - 3, completedAt: now, durationMs: 3,
  };
}

/** Records (not entries: one entry holds every record appended in the same tick) in the stream. */
const recordsInStream = async () =>
  (await redis.xrange(keys.auditStream, '-', '+')).reduce((n, [, fields]) => n + countRecords(fields), 0);

const tableCounts = async () =>
  (await store.db.select({ rows: sql<number>`count(*)::int`, distinct: sql<number>`count(distinct ${workerJobs.executionId})::int` }).from(workerJobs))[0];

test('killed between commit and ack: re-delivery inserts nothing twice and the stream drains', async () => {
  const { append } = createAuditAppender({ send: ioredisSend(redis), streamKey: keys.auditStream });
  await Promise.all(Array.from({ length: RECORDS }, (_, i) => append(record(i))));
  // append() resolves once the XADDs are written; a reply on the same connection means Redis ran them.
  await redis.ping();

  const doomed = Bun.spawn([process.execPath, resolve(import.meta.dir, 'fixtures/writer-process.ts')], {
    env: testEnv({ QUEUE_PREFIX: prefix, ...db.env, SLUICE_TEST_DIE_AFTER_INSERT: '1' }),
    stdout: 'pipe',
    stderr: 'inherit',
  });
  await doomed.exited;
  expect(doomed.signalCode).toBe('SIGKILL');
  expect(await new Response(doomed.stdout).text()).toBe(`inserted ${RECORDS}\n`);
  store = await openAuditStore(testConfig({ QUEUE_PREFIX: prefix, ...db.env }));

  // The rows committed, but the stream still holds every record, pending for the dead consumer.
  expect(await tableCounts()).toEqual({ rows: RECORDS, distinct: RECORDS });
  expect(await recordsInStream()).toBe(RECORDS);
  const [pending] = (await redis.xpending(keys.auditStream, 'audit-writers')) as [number];
  expect(pending).toBe(await redis.xlen(keys.auditStream));

  // A new writer claims the dead consumer's entries, finds the rows present, and acks.
  let newlyInserted = 0;
  const successor = await startWriter(store, testConfig({ QUEUE_PREFIX: prefix, ...db.env }), {
    claimIdleMs: 200,
    onInserted: (records) => (newlyInserted += records.length),
  });
  try {
    await waitFor('the successor to drain the stream', async () => (await successor.writer.backlog()) === 0, 20_000);
    expect(successor.writer.stats()).toMatchObject({ inserted: 0, duplicates: RECORDS, parked: 0 });
  } finally {
    await successor.stop();
  }
  expect(newlyInserted).toBe(0);
  expect(await tableCounts()).toEqual({ rows: RECORDS, distinct: RECORDS });
  expect(((await redis.xpending(keys.auditStream, 'audit-writers')) as [number])[0]).toBe(0);
  expect(await recordsInStream()).toBe(0);
}, 120_000); // a writer process and this one each open the store: 11-14 s apiece on PGlite on a loaded machine
