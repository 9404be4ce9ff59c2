/** An audit read Postgres cancels for running past AUDIT_READ_TIMEOUT: 504 AUDIT_QUERY_TIMEOUT from /history and /stats, a named error in /health. */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test';
import pino from 'pino';
import { migrate, openAuditStore, type AuditStore } from '@sluice/db';
import { jobRegistry, type JobRegistry } from '@sluice/jobs';
import { createMetrics } from '@sluice/observability';
import { QueueManager } from '@sluice/queue';
import { createServer, type SluiceServer } from '@sluice/server-app';
import { lockWorkerJobs, postgresDatabase, postgresUnavailable, type TestDatabase } from '../helpers/db.ts';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { deletePrefix } from './helpers/server-process.ts';

// Postgres-only tests are skipped where no Postgres answers (the store is then PGlite).
const noPostgres = (await postgresUnavailable()) !== undefined;

setDefaultTimeout(30_000);

const prefix = uniquePrefix('read-timeout');
let db: TestDatabase;
let store: AuditStore;
let queue: QueueManager<JobRegistry>;
let app: SluiceServer;

beforeAll(async () => {
  db = await postgresDatabase('server_read_timeout');
  const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env, AUDIT_READ_TIMEOUT: '300' });
  store = await openAuditStore(config);
  await migrate(store);
  queue = await QueueManager.open<JobRegistry>({ config, registry: jobRegistry });
  app = await createServer({ config, queue, audit: store, metrics: createMetrics({ processMetrics: false }), log: pino({ level: 'silent' }) });
}, 120_000); // a fresh PGlite store (where no Postgres runs) takes 11-14 s to open on a loaded machine

afterAll(async () => {
  await queue?.close();
  await deletePrefix(prefix);
  await store?.close();
  await db?.drop();
});

const get = async (path: string) => {
  const response = await app.handle(new Request(`http://localhost${path}`));
  return { status: response.status, body: (await response.json()) as any };
};

// PGlite does not enforce statement_timeout (README: Where the table lives).
test.skipIf(noPostgres)('reads held past the timeout answer 504 AUDIT_QUERY_TIMEOUT saying what to narrow; /health reports the database part', async () => {
  // A table lock holds the reads past 300 ms, whatever the machine's speed.
  const lock = await lockWorkerJobs(db.env.DATABASE_URL);
  try {
    const history = await get('/api/v1/jobs/history?type=echo');
    expect(history.status).toBe(504);
    expect(history.body.error.code).toBe('AUDIT_QUERY_TIMEOUT');
    expect(history.body.error.message).toContain('the audit history query ran longer than 300 ms and Postgres cancelled it (AUDIT_READ_TIMEOUT)');

    const stats = await get('/api/v1/jobs/stats?windowMs=86400000');
    expect(stats.status).toBe(504);
    expect(stats.body.error).toEqual({
      code: 'AUDIT_QUERY_TIMEOUT',
      message: 'the audit metrics by type query ran longer than 300 ms and Postgres cancelled it (AUDIT_READ_TIMEOUT): use a shorter windowMs, or raise AUDIT_READ_TIMEOUT',
    });

    // /health still answers: Redis and the queue are fine, and the database part says why it has no figures.
    const health = await get('/api/v1/jobs/health');
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('warning');
    expect(health.body.database.status).toBe('down');
    expect(health.body.database.error).toContain('the audit health query ran longer than 300 ms');
    expect(health.body.types.map((t: any) => t.status)).toEqual(health.body.types.map(() => 'unknown'));
    expect(health.body.types.map((t: any) => t.type)).toContain('echo');
  } finally {
    await lock.release();
  }
  expect((await get('/api/v1/jobs/history')).status).toBe(200);
  expect((await get('/api/v1/jobs/stats')).body.types).toEqual([]);
});
