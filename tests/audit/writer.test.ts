/** The writer on both stores: truncation, parking, exactly-once callbacks, backlog, migrations, readiness. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Redis } from 'ioredis';
import { createAuditAppender, createAuditWriter, migrate, openAuditStore, type AuditStore, type TruncatedJson } from '@sluice/db';
import { connectRedis, ioredisSend, sluiceKeys, type ExecutionRecord } from '@sluice/queue';
import { lockWorkerJobs, pgliteDatabase, postgresDatabase, postgresUnavailable, type TestDatabase } from '../helpers/db.ts';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { quietLog, startWriter, waitFor, type TestWriter } from './support.ts';

// The lock tests need a second Postgres session; where no Postgres answers, the postgres
// path runs on PGlite and they are skipped.
const noPostgres = (await postgresUnavailable()) !== undefined;

let seq = 0;
function record(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  const now = Date.now();
  const jobId = `w-${++seq}`;
  return {
    executionId: `${jobId}:1:${now}`, jobId, type: 'echo', userId: null, data: { message: jobId }, result: { ok: true },
    status: 'completed', attempt: 1, willRetry: false, worker: 'host:1', queuedAt: now - 10, startedAt: now - 5, completedAt: now,
    durationMs: 5, ...overrides,
  };
}

for (const path of ['postgres', 'pglite'] as const) {
  describe(`audit writer (${path})`, () => {
    const prefix = uniquePrefix(`audit-writer-${path}`);
    const keys = sluiceKeys(prefix);
    let db: TestDatabase;
    let store: AuditStore;
    let redis: Redis;
    let writer: TestWriter;
    const inserted: string[] = [];
    let append: (record: ExecutionRecord) => Promise<void>;

    beforeAll(async () => {
      db = path === 'postgres' ? await postgresDatabase('audit_writer') : pgliteDatabase('audit-writer');
      const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env });
      store = await openAuditStore(config);
      await migrate(store);
      await migrate(store); // idempotent: a second start applies nothing
      redis = await connectRedis(config.redis.url, { role: 'producer' });
      const appender = createAuditAppender({ send: ioredisSend(redis), streamKey: keys.auditStream });
      // Waits for Redis's reply, so a record is in the stream before the test reads the stream
      // on another connection (the writer's backlog()): an XADD only written could land after
      // a drained() check and be left for the next test. Appends made in one turn still share an entry.
      append = async (r) => {
        await appender.append(r);
        if (!(await appender.drain(10_000))) throw new Error('the test appender got no reply from Redis in 10 s');
      };
      writer = await startWriter(store, config, { onInserted: (records) => inserted.push(...records.map((r) => r.executionId)) });
    }, 30_000);

    afterAll(async () => {
      await writer?.stop();
      await redis?.del(keys.auditStream, keys.auditParked);
      redis?.disconnect();
      await store?.close();
      await db?.drop();
    });

    const rowOf = async (jobId: string) => (await store.getJobHistory({ jobId })).rows[0];
    const drained = () => waitFor('the backlog to drain', async () => (await writer.writer.backlog()) === 0, 20_000);

    test('ping answers while the store is up', async () => {
      expect((await store.ping()).status).toBe('up');
    });

    test('oversized data, result and error are stored truncated, with a marker', async () => {
      const big = 'x'.repeat(100_000);
      const r = record({ data: { blob: big }, result: { blob: big }, status: 'failed', error: { name: big, message: big, stack: big } });
      await append(r);
      const row = await waitFor('the truncated row', () => rowOf(r.jobId));
      const data = row.data as TruncatedJson;
      expect(data._truncated).toBe(true);
      expect(data.originalBytes).toBeGreaterThan(100_000);
      expect(data.preview.startsWith('{"blob":"xxx')).toBe(true);
      expect((row.result as TruncatedJson)._truncated).toBe(true);
      expect(row.error!.message.length).toBeLessThan(5000);
      expect(row.error!.message).toMatch(/… \[truncated \d+ chars\]$/);
      expect(row.error!.stack!.length).toBeLessThan(9000);
      expect(row.error!.name).toBe(`${'x'.repeat(200)}… [truncated 99800 chars]`);
    });

    test('text and JSON holding tabs, newlines, backslashes and quotes are stored exactly as appended', async () => {
      const awkward = 'tab\there\nnew line\r\\back\\slash "quoted" \\N é 🚀';
      const r = record({ userId: awkward, data: { message: awkward, nested: [awkward, null, 1.5] }, result: { awkward }, status: 'failed', error: { name: 'Error', message: awkward, stack: awkward } });
      await append(r);
      const row = await waitFor('the awkward row', () => rowOf(r.jobId));
      expect(row.userId).toBe(awkward);
      expect(row.data).toEqual({ message: awkward, nested: [awkward, null, 1.5] });
      expect(row.result).toEqual({ awkward });
      expect(row.error).toEqual({ name: 'Error', message: awkward, stack: awkward });
      expect(row.completedAt.getTime()).toBe(r.completedAt);
      expect(row.durationMs).toBe(5);
    });

    test('a data or result nested deeper than 1000 levels is stored as a marker, and the store keeps working', async () => {
      let deep: unknown = 'bottom';
      for (let i = 0; i < 5000; i++) deep = { x: deep }; // about 30 KB: under the size limit
      let fine: unknown = 'bottom';
      for (let i = 0; i < 999; i++) fine = [fine];
      const r = record({ data: { fine }, result: deep });
      await append(r);
      const row = await waitFor('the deep row', () => rowOf(r.jobId));
      expect(row.data).toEqual({ fine });
      const marker = row.result as TruncatedJson;
      expect(marker).toMatchObject({ _truncated: true, nestedDeeperThan: 1000 });
      expect(marker.preview.startsWith('{"x":{"x":')).toBe(true);
      const after = record();
      await append(after);
      expect(await waitFor('a row after it', () => rowOf(after.jobId))).toBeDefined();
      expect((await store.getJobHistory({ limit: 1000 })).rows.length).toBeGreaterThan(1);
    });

    test('a U+0000 or an unpaired surrogate, which Postgres cannot store, lands as U+FFFD instead of being parked', async () => {
      const odd = 'nul\u0000 lone-high\ud800 lone-low\udc00 pair\ud83d\ude00 text\\u0000';
      const r = record({ userId: `user\u0000`, data: { [odd]: odd }, result: { text: odd }, status: 'failed', error: { name: 'Error', message: odd } });
      const parkedBefore = writer.writer.stats().parked;
      await append(r);
      const row = await waitFor('the odd row', () => rowOf(r.jobId));
      const stored = 'nul\ufffd lone-high\ufffd lone-low\ufffd pair\ud83d\ude00 text\\u0000';
      expect(row.userId).toBe('user\ufffd');
      expect(row.data).toEqual({ [stored]: stored });
      expect(row.result).toEqual({ text: stored });
      expect(row.error).toEqual({ name: 'Error', message: stored });
      expect(writer.writer.stats().parked).toBe(parkedBefore);
    });

    test('records Postgres rejects are parked and reported; the rest of the batch lands', async () => {
      const good = record();
      const tooLong = record({ attempt: 2 ** 31 }); // attempt is an integer column
      const parkedBefore = writer.writer.stats().parked;
      // Several entries in one XADD pipeline, so they arrive in one batch.
      await Promise.all([append(good), append(tooLong)]);
      await redis.xadd(keys.auditStream, '*', 'm', '{not json');
      await drained();
      expect(await rowOf(good.jobId)).toBeDefined();
      expect(await rowOf(tooLong.jobId)).toBeUndefined();
      expect(writer.writer.stats().parked - parkedBefore).toBe(2);
      expect(await writer.writer.parked()).toBeGreaterThanOrEqual(2);
      const parked = (await redis.xrange(keys.auditParked, '-', '+')).map(([, fields]) => fields);
      const reasons = parked.map((fields) => fields[fields.indexOf('parkedReason') + 1]);
      expect(reasons.some((reason) => /not valid JSON/.test(reason!))).toBe(true);
      expect(reasons.some((reason) => /out of range/i.test(reason!))).toBe(true);
    });

    test('a record whose time is past the year 9999 is parked, naming the field, not stored where history cannot page past it', async () => {
      const future = record({ completedAt: 9_000_000_000_000_000 });
      const parkedBefore = writer.writer.stats().parked;
      await append(future);
      await drained();
      // Before: stored as 287168-08-24; queue:history printed NaN for it and refused its own next cursor.
      expect(await rowOf(future.jobId)).toBeUndefined();
      expect(writer.writer.stats().parked - parkedBefore).toBe(1);
      const parked = (await redis.xrange(keys.auditParked, '-', '+')).map(([, fields]) => fields);
      const reasons = parked.map((fields) => fields[fields.indexOf('parkedReason') + 1]);
      expect(reasons).toContain('record field "completedAt" must be a time in ms since 1970 up to the year 9999, got 9000000000000000');
    });

    test('a record delivered twice is one row, and onInserted hears of it once', async () => {
      const r = record();
      await append(r);
      await append(r);
      await drained();
      expect((await store.getJobHistory({ jobId: r.jobId })).rows).toHaveLength(1);
      expect(inserted.filter((id) => id === r.executionId)).toHaveLength(1);
    });

    test('backlog counts the stream entries waiting; records of one tick share an entry', async () => {
      await writer.stop();
      await Promise.all([append(record()), append(record()), append(record())]);
      await append(record());
      const idle = createAuditWriter({ store, redis, keys, log: quietLog });
      expect(await idle.backlog()).toBe(2);
      writer = await startWriter(store, testConfig({ QUEUE_PREFIX: prefix, ...db.env }));
      await drained();
      expect(await writer.writer.backlog()).toBe(0);
    });

    test('a writer starting on a backlog of full entries writes it in batches of its batch size, not one huge one', async () => {
      const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env });
      await writer.stop();
      // 200 entries of 40 records: what workers leave behind while no writer runs.
      for (let entry = 0; entry < 200; entry++) await Promise.all(Array.from({ length: 40 }, () => append(record())));
      expect(await createAuditWriter({ store, redis, keys, log: quietLog }).backlog()).toBe(200);
      const batches: number[] = [];
      writer = await startWriter(store, config, {
        onInserted: (records) => {
          batches.push(records.length);
          inserted.push(...records.map((r) => r.executionId));
        },
      });
      await drained();
      expect(batches.reduce((a, b) => a + b, 0)).toBe(8000);
      // 4,000 records a batch into Postgres, 1,000 into PGlite; before, the first read took all 8,000.
      expect(Math.max(...batches)).toBeLessThanOrEqual(db.kind === 'postgres' ? 4000 : 1000);
      expect(Math.max(...batches)).toBeGreaterThanOrEqual(db.kind === 'postgres' ? 2000 : 500);
    }, 60_000);

    // A write held up by a lock on worker_jobs (Postgres only) while workers go on. Defined in
    // the postgres path, skipped where that path fell back to PGlite (db.kind is known only in beforeAll).
    if (path === 'postgres') {
      /**
       * Appends single-record entries one at a time, each written before the next (the
       * writer's reads grow to 1000 entries), then locks worker_jobs and appends one more,
       * which the writer reads and takes into a write that waits on the lock. Returns the lock.
       */
      const smallEntriesThenHeldWrite = async (send: (r: ExecutionRecord) => Promise<void>, writtenSoFar: () => number) => {
        for (let i = 0; i < 12; i++) {
          await send(record());
          await waitFor('the single record', () => writtenSoFar() === i + 1, 10_000, 10);
        }
        const lock = await lockWorkerJobs(db.env.DATABASE_URL);
        await send(record());
        await Bun.sleep(300);
        return lock;
      };

      test.skipIf(noPostgres)('a backlog of full entries that builds up while a write waits is written in groups of the batch size', async () => {
        const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env });
        await writer.stop();
        const batches: number[] = [];
        writer = await startWriter(store, config, {
          onInserted: (records) => {
            batches.push(records.length);
            inserted.push(...records.map((r) => r.executionId));
          },
        });
        const lock = await smallEntriesThenHeldWrite(append, () => batches.length);
        // 200 entries of 40 records wait behind the held write.
        for (let entry = 0; entry < 200; entry++) await Promise.all(Array.from({ length: 40 }, () => append(record())));
        await lock.release();
        await drained();
        expect(batches.slice(12).reduce((a, b) => a + b, 0)).toBe(8001);
        // Before, the read after the lock took all 8,000 into one COPY.
        expect(Math.max(...batches)).toBeLessThanOrEqual(4000 + 39);
      }, 60_000);

      test.skipIf(noPostgres)('a writer stopped while a read\'s later groups wait writes none of them after stop() returns; the next writer does', async () => {
        const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env });
        await writer.stop();
        const mine: string[] = [];
        const add = (r: ExecutionRecord) => {
          mine.push(r.executionId);
          return append(r);
        };
        const written: string[] = [];
        let stopped = false;
        const afterStop: number[] = [];
        const stopping = await startWriter(store, config, {
          batchRecords: 40,
          onInserted: (records) => {
            written.push(...records.map((r) => r.executionId));
            if (stopped) afterStop.push(records.length);
          },
        });
        try {
          const first = await smallEntriesThenHeldWrite(add, () => written.length);
          // Queued behind the writer's waiting COPY: granted once that commits, it holds up the next read's first group.
          const second = lockWorkerJobs(db.env.DATABASE_URL);
          for (let entry = 0; entry < 10; entry++) await Promise.all(Array.from({ length: 40 }, () => add(record())));
          await first.release();
          const holding = await second;
          await Bun.sleep(300);
          await stopping.writer.stop(200);
          stopped = true;
          await holding.release();
          await Bun.sleep(500);
        } finally {
          // A failure above must not leave this writer taking the next test's records.
          if (!stopped) await stopping.writer.stop(200);
          stopping.redis.disconnect();
        }
        // The group in flight commits; no later group starts (before: all nine did, after stop() returned).
        expect(afterStop.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(40);
        const [pending] = (await redis.xpending(keys.auditStream, 'audit-writers')) as [number];
        expect(pending).toBeGreaterThan(0);

        // The next writer claims what was left: every record written once, nothing pending.
        writer = await startWriter(store, config, { claimIdleMs: 100, onInserted: (records) => written.push(...records.map((r) => r.executionId)) });
        await waitFor('every record written', () => mine.every((id) => written.includes(id)), 20_000);
        await drained();
        expect(written.filter((id) => mine.includes(id)).sort()).toEqual([...mine].sort());
        expect(await redis.xpending(keys.auditStream, 'audit-writers')).toEqual([0, null, null, null]);
      }, 60_000);
    }

    test('an entry another writer read and never acknowledged stays in Redis while later ones are written and removed, and lands once claimed', async () => {
      const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env });
      await writer.stop();
      const held = record();
      await append(held);
      // Another writer reads it and dies before writing it.
      await redis.call('XREADGROUP', 'GROUP', 'audit-writers', 'dead-writer', 'COUNT', 1, 'STREAMS', keys.auditStream, '>');
      const later = [record(), record()];
      await Promise.all(later.map(append));
      writer = await startWriter(store, config, { claimIdleMs: 60_000 });
      for (const r of later) await waitFor('a later row', () => rowOf(r.jobId));
      await waitFor('only the held entry left in the stream', async () => (await writer.writer.backlog()) === 1, 5000);
      const left = await redis.xrange(keys.auditStream, '-', '+');
      expect(left).toHaveLength(1);
      expect(left[0]![1].join(' ')).toContain(held.executionId);
      expect(await rowOf(held.jobId)).toBeUndefined();

      await writer.stop();
      writer = await startWriter(store, config, { claimIdleMs: 100 });
      await waitFor('the held row, once claimed', () => rowOf(held.jobId));
      await drained();
      expect((await store.getJobHistory({ jobId: held.jobId })).rows).toHaveLength(1);
      expect(await redis.xpending(keys.auditStream, 'audit-writers')).toEqual([0, null, null, null]);
    }, 20_000);

    test('a record that cannot be parked (Redis refuses the write) stays in the stream until it can be', async () => {
      const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env });
      await writer.stop();
      writer = await startWriter(store, config, { claimIdleMs: 200 });
      await redis.del(keys.auditParked);
      await redis.set(keys.auditParked, 'not a stream'); // XADD to it now fails, as on a full Redis
      const refused = record({ attempt: 2 ** 31 });
      await append(refused);
      await waitFor('the writer to have tried to park it', async () => (await redis.xpending(keys.auditStream, 'audit-writers'))[0] === 1);
      expect(await redis.xlen(keys.auditStream)).toBe(1);

      await redis.del(keys.auditParked);
      await waitFor('the record parked, once Redis takes it', async () => (await redis.exists(keys.auditParked)) === 1);
      await drained();
      const parked = await redis.xrange(keys.auditParked, '-', '+');
      expect(parked[0]![1].join(' ')).toContain(refused.executionId);
    }, 20_000);

    test('flush waits for what this writer holds, not for entries another writer holds or records other instances keep appending', async () => {
      const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env });
      await writer.stop();
      const held = record();
      await append(held);
      // Another instance's writer reads it and is still writing it.
      await redis.xreadgroup('GROUP', 'audit-writers', 'other:1', 'COUNT', 10, 'STREAMS', keys.auditStream, '>');
      const mine = record();
      await append(mine);
      writer = await startWriter(store, config);
      // Another instance's workers go on appending.
      let appending = true;
      const otherWorkers = (async () => {
        while (appending) {
          await append(record());
          await Bun.sleep(20);
        }
      })();
      const flushed = await writer.writer.flush(3000);
      appending = false;
      await otherWorkers;
      expect(flushed).toBe(true);
      expect(await rowOf(mine.jobId)).toBeDefined();
      expect(await rowOf(held.jobId)).toBeUndefined();
      // The other writer finishes its batch.
      const heldId = ((await redis.xpending(keys.auditStream, 'audit-writers', '-', '+', 10, 'other:1')) as [string][])[0]![0];
      await redis.xack(keys.auditStream, 'audit-writers', heldId);
      await redis.xdel(keys.auditStream, heldId);
      await drained();
    }, 20_000);

    test('consumers that hold nothing and have not read for a while leave the group; one that holds entries stays', async () => {
      const config = testConfig({ QUEUE_PREFIX: prefix, ...db.env });
      await writer.stop();
      await redis.xgroup('CREATECONSUMER', keys.auditStream, 'audit-writers', 'gone:1');
      await append(record());
      await redis.xreadgroup('GROUP', 'audit-writers', 'holding:1', 'COUNT', 10, 'STREAMS', keys.auditStream, '>');
      await Bun.sleep(100); // both idle for longer than this writer's limit
      writer = await startWriter(store, config, { forgetConsumersIdleMs: 50 });
      const consumers = async () => ((await redis.xinfo('CONSUMERS', keys.auditStream, 'audit-writers')) as string[][]).map((info) => info[1]);
      await waitFor('gone:1 to leave the group', async () => !(await consumers()).includes('gone:1'));
      expect(await consumers()).toContain('holding:1');
      const heldId = ((await redis.xpending(keys.auditStream, 'audit-writers', '-', '+', 10, 'holding:1')) as [string][])[0]![0];
      await redis.xack(keys.auditStream, 'audit-writers', heldId);
      await redis.xdel(keys.auditStream, heldId);
    }, 20_000);
  });
}
