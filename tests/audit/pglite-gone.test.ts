/** The embedded store deleted under a running writer (records wait in Redis, land after a restart), or damaged (a clear refusal). */
import { afterAll, expect, test } from 'bun:test';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { createAuditAppender, migrate, openAuditStore, type AuditStore } from '@sluice/db';
import { connectRedis, ioredisSend, sluiceKeys, type ExecutionRecord } from '@sluice/queue';
import { pgliteDatabase } from '../helpers/db.ts';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { startWriter, waitFor, type TestWriter } from './support.ts';

const prefix = uniquePrefix('audit-pglite-gone');
const keys = sluiceKeys(prefix);
const db = pgliteDatabase('audit-gone');
const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env });
const redis = await connectRedis(config.redis.url, { role: 'producer' });
const append = createAuditAppender({ send: ioredisSend(redis), streamKey: keys.auditStream }).append;
let store: AuditStore | undefined;
let writer: TestWriter | undefined;

afterAll(async () => {
  await writer?.stop();
  await store?.close();
  await redis.del(keys.auditStream, keys.auditParked);
  redis.disconnect();
  await db.drop();
});

function record(jobId: string): ExecutionRecord {
  const now = Date.now();
  return {
    executionId: `${jobId}:1:${now}`, jobId, type: 'echo', userId: null, data: { message: jobId }, result: null,
    status: 'completed', attempt: 1, willRetry: false, worker: 'host:1', queuedAt: now, startedAt: now, completedAt: now, durationMs: 0,
  };
}

test('rows are refused while the directory is gone, kept in Redis, and written once the store is opened again', async () => {
  store = await openAuditStore(config);
  await migrate(store);
  writer = await startWriter(store, config, { retry: { initialMs: 50, maxMs: 200 } });
  await append(record('before'));
  await waitFor('the first row', async () => (await store!.getJobHistory({ jobId: 'before' })).rows.length === 1);

  rmSync(`${db.env.DATA_DIR}/audit`, { recursive: true, force: true });
  await append(record('after'));
  await waitFor('the writer to hold the record back', () => writer!.writer.stats().storeDown);
  expect(await writer.writer.backlog()).toBe(1);
  const health = await store.ping();
  expect(health.status).toBe('down');
  expect(health.error).toContain('was deleted or replaced while this process ran');

  // What a restart does: a new store in the same place, migrated, and the writer drains the backlog into it.
  await writer.stop();
  await store.close();
  store = await openAuditStore(config);
  await migrate(store);
  // The first writer read the record and never acknowledged it: it is claimed once idle (30 s by default).
  writer = await startWriter(store, config, { claimIdleMs: 500 });
  await waitFor('the held-back row', async () => (await store!.getJobHistory({ jobId: 'after' })).rows.length === 1);
  expect(await writer.writer.backlog()).toBe(0);
}, 60_000);

test('the store directory moved aside and opened anew in this same process: the old handle stays refused and loses nothing', async () => {
  await writer?.stop();
  writer = undefined;
  await store?.close();
  const old = await openAuditStore(config);
  await migrate(old);
  // The lock file stays (only the store's own directory goes), so the new opening shares it.
  rmSync(`${db.env.DATA_DIR}/audit`, { recursive: true, force: true });
  store = await openAuditStore(config);
  await migrate(store);

  expect((await old.ping()).error).toContain('was deleted or replaced while this process ran');
  const refused = await old.insertExecutions([{ ...record('into-the-old-handle'), queuedAt: new Date(), startedAt: new Date(), completedAt: new Date() }]).catch((e) => e);
  expect(refused.name).toBe('AuditStoreGoneError');
  await old.close();
  // Closing the old handle neither broke the new store nor took its lock.
  expect((await store.ping()).status).toBe('up');
  await store.close();
  store = await openAuditStore(config);
  expect((await store.ping()).status).toBe('up');
}, 60_000);

test('the whole data directory deleted and a new store created there by db:migrate: the old writer still refuses, a restart writes into the new store', async () => {
  await writer?.stop();
  await store?.close();
  store = await openAuditStore(config);
  await migrate(store);
  writer = await startWriter(store, config, { retry: { initialMs: 50, maxMs: 200 } });

  // The lock file goes too, so another process may open the directory now.
  rmSync(db.env.DATA_DIR, { recursive: true, force: true });
  const migrateCli = Bun.spawn([process.execPath, resolve(import.meta.dir, '../../packages/db/src/migrate-cli.ts')], {
    env: testEnv({ QUEUE_PREFIX: prefix, ...db.env }), stdout: 'pipe', stderr: 'pipe',
  });
  expect(await migrateCli.exited).toBe(0);
  expect(await new Response(migrateCli.stdout).text()).toContain('migrations applied');

  await append(record('replaced'));
  await waitFor('the writer to hold the record back', () => writer!.writer.stats().storeDown);
  expect(await writer.writer.backlog()).toBe(1);
  expect((await store.ping()).error).toContain('was deleted or replaced while this process ran');

  // The new store opened in this same process before the old one closes (a restart of the
  // audit trail alone): the old handle must stay refused, and its close must not touch the new store.
  const old = { store, writer };
  store = await openAuditStore(config);
  expect((await old.store.ping()).error).toContain('was deleted or replaced while this process ran');
  await old.writer.stop();
  await old.store.close();
  writer = await startWriter(store, config, { claimIdleMs: 500 });
  await waitFor('the held-back row in the new store', async () => (await store!.getJobHistory({ jobId: 'replaced' })).rows.length === 1);
  expect(await writer.writer.backlog()).toBe(0);

  // And the new store opens again afterwards, with the row in it.
  await writer.stop();
  await store.close();
  store = await openAuditStore(config);
  expect((await store.getJobHistory({ jobId: 'replaced' })).rows).toHaveLength(1);
  writer = undefined;
}, 60_000);

test('a write that commits after the store directory was deleted is refused, not reported written', async () => {
  const own = pgliteDatabase('audit-gone-midwrite');
  const mid = await openAuditStore(testConfig(own.env));
  try {
    await migrate(mid);
    if (mid.driver.kind !== 'pglite') throw new Error('expected the embedded store');
    const now = new Date();
    // A first row opens the table's and its indexes' files, as a running store has them open.
    await mid.insertExecutions([{ ...record('warm-up'), queuedAt: now, startedAt: now, completedAt: now }]);
    // Each insert takes 600 ms, and the directory goes 150 ms into it: the write itself still succeeds, into unlinked files.
    await mid.driver.client.exec(`
      create function slow_insert() returns trigger as $$ begin perform pg_sleep(0.6); return new; end $$ language plpgsql;
      create trigger slow_insert before insert on worker_jobs for each row execute function slow_insert();`);
    // And a slow one loads the trigger's function, so the next insert reads no file it has not opened.
    await mid.insertExecutions([{ ...record('warm-up-slow'), queuedAt: now, startedAt: now, completedAt: now }]);
    const rm = Bun.spawn(['sh', '-c', `sleep 0.15; rm -rf '${own.env.DATA_DIR}/audit'`]);
    const outcome = await mid.insertExecutions([{ ...record('mid-write'), queuedAt: now, startedAt: now, completedAt: now }]).then(() => 'written', (e: Error) => e.name);
    await rm.exited;
    expect(outcome).toBe('AuditStoreGoneError');
  } finally {
    await mid.close();
    await own.drop();
  }
}, 30_000);

test('a damaged embedded store is refused with its directory and what to check, not PGlite\'s bare "Aborted()"', async () => {
  const broken = pgliteDatabase('audit-broken');
  try {
    const dir = `${broken.env.DATA_DIR}/audit`;
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(`${dir}/global`, { recursive: true });
    writeFileSync(`${dir}/PG_VERSION`, 'garbage\n');
    writeFileSync(`${dir}/global/pg_control`, Buffer.alloc(8192, 7));
    const error = await openAuditStore(testConfig(broken.env)).catch((e) => e);
    expect(error.name).toBe('AuditStoreUnavailableError');
    expect(error.message).toStartWith(`the audit database ${dir} could not be opened: `);
    expect(error.message).toContain('move it aside to start with an empty audit table');
  } finally {
    await broken.drop();
  }
}, 60_000);
