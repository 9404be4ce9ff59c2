/** Postgres unreachable for >= 10 s while 500 echo jobs run: jobs finish anyway, and every execution lands exactly once. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { countRecords, migrate, openAuditStore, sql, workerJobs, type AuditStore } from '@sluice/db';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager, sluiceKeys } from '@sluice/queue';
import type { Supervisor } from '@sluice/supervisor';
import { postgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
import { startWorkers, startWriter, waitFor, type TestWriter } from './support.ts';

const JOBS = 500;
const OUTAGE_MS = 10_000;
const prefix = uniquePrefix('audit-outage');

let db: TestDatabase;
let direct: AuditStore;
let viaProxy: AuditStore;
let proxy: TcpProxy | null = null;
let queue: QueueManager<typeof jobRegistry>;
let writer: TestWriter;
let workers: Supervisor;
let insertedCallbacks = 0;

// Opening a fresh store takes seconds (PGlite, where no Postgres runs: 11-14 s on a loaded
// two-core machine); bun's default 5 s is not a limit this hook can keep.
beforeAll(async () => {
  db = await postgresDatabase('audit_outage');
  const env = { QUEUE_PREFIX: prefix, ...db.env, WORKER_QUEUE_CONCURRENCY: '10' };
  const config = testConfig(env);
  direct = await openAuditStore(config);
  await migrate(direct);
  if (db.kind === 'postgres') {
    // The writer reaches Postgres only through a proxy the test can cut.
    const target = new URL(db.env.DATABASE_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    target.port = String(proxy.port);
    viaProxy = await openAuditStore(testConfig({ ...env, DATABASE_URL: target.toString() }));
  } else {
    process.stderr.write('[audit-outage] PGlite fallback: no server to cut off, so this run checks exactly-once delivery only\n');
    viaProxy = direct;
  }
  queue = await QueueManager.open({ config, registry: jobRegistry });
  writer = await startWriter(viaProxy, config, {
    retry: { initialMs: 100, maxMs: 1000 },
    onInserted: (records) => (insertedCallbacks += records.length),
  });
  workers = await startWorkers(env, 2);
}, 120_000);

afterAll(async () => {
  await workers?.stop();
  await writer?.stop();
  await queue?.queue.obliterate({ force: true });
  await queue?.close();
  if (viaProxy !== direct) await viaProxy?.close();
  await proxy?.close();
  await direct?.close();
  await db?.drop();
}, 120_000);

test(`${JOBS} jobs during a >= ${OUTAGE_MS / 1000} s Postgres outage: one row per execution, no gaps, no duplicates`, async () => {
  await proxy?.close();
  const cutAt = Date.now();

  const submitted = await queue.submitBulk(
    Array.from({ length: JOBS }, (_, i) => ({ type: 'echo', data: { message: `outage-${i}`, sleepMs: i % 7 } })),
  );

  // Jobs keep running at full speed with the store unreachable: all of them finish...
  await waitFor('every job to finish during the outage', async () => (await queue.getCounts()).completed === JOBS, 60_000);
  // ...and their records wait in Redis.
  if (proxy) {
    expect(Date.now() - cutAt).toBeLessThan(OUTAGE_MS);
    const waiting = (await writer.redis.xrange(sluiceKeys(prefix).auditStream, '-', '+'))
      .reduce((n, [, fields]) => n + countRecords(fields), 0);
    expect(waiting).toBe(JOBS);
    expect(await writer.writer.backlog()).toBeGreaterThan(0);
    expect(writer.writer.stats().storeDown).toBe(true);
    expect((await direct.getJobHistory({ limit: 1 })).rows).toHaveLength(0);
    // Hold the outage for its full length before restoring the route.
    await waitFor('the outage to last its full length', () => Date.now() - cutAt >= OUTAGE_MS, OUTAGE_MS + 1000, 100);
    expect(writer.writer.stats().storeDown).toBe(true);
    await proxy.open();
  }

  await waitFor('the backlog to drain', async () => (await writer.writer.backlog()) === 0, 30_000);
  const [counts] = await direct.db
    .select({
      rows: sql<number>`count(*)::int`,
      executions: sql<number>`count(distinct ${workerJobs.executionId})::int`,
      jobs: sql<number>`count(distinct ${workerJobs.jobId})::int`,
      completed: sql<number>`(count(*) filter (where ${workerJobs.status} = 'completed'))::int`,
    })
    .from(workerJobs);
  expect(counts).toEqual({ rows: JOBS, executions: JOBS, jobs: JOBS, completed: JOBS });

  const recorded = new Set((await direct.db.select({ jobId: workerJobs.jobId }).from(workerJobs)).map((r) => r.jobId));
  expect(submitted.filter(({ id }) => !recorded.has(id))).toEqual([]);
  expect(insertedCallbacks).toBe(JOBS);
  expect(writer.writer.stats().storeDown).toBe(false);
}, 90_000);
