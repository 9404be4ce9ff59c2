/** The writer's COPY fast path on both stores: exact round trip of awkward text, and failures that surface. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { copyAuditRows, sqlState, toCopyText, writeAuditRows, type AuditStore } from '@sluice/db';
import type { ExecutionRecord } from '@sluice/queue';
import type { TestDatabase } from '../helpers/db.ts';
import { openMigratedStore } from './support.ts';

const awkward = 'tab\there\nnew line\r\\back\\slash "quoted" \\N \\. é 🚀';
let seq = 0;
function record(overrides: Partial<ExecutionRecord> = {}): ExecutionRecord {
  const jobId = `c-${++seq}`;
  return {
    executionId: `${jobId}:1:1700000000000`, jobId, type: 'echo', userId: null, data: { message: jobId }, result: { ok: true },
    status: 'completed', attempt: 1, willRetry: false, worker: 'host:1', queuedAt: 1_700_000_000_000, startedAt: 1_700_000_000_250,
    completedAt: 1_700_000_000_750, durationMs: 500, ...overrides,
  };
}

for (const path of ['postgres', 'pglite'] as const) {
  describe(`COPY fast path (${path})`, () => {
    let db: TestDatabase;
    let store: AuditStore;

    beforeAll(async () => {
      ({ db, store } = await openMigratedStore(path, 'copy-rows'));
    }, 30_000);

    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    const rowOf = async (jobId: string) => (await store.getJobHistory({ jobId })).rows[0];

    test('one COPY stores every field exactly, escapes included', async () => {
      const r = record({
        userId: awkward, data: { message: awkward, list: [awkward, null, 1.5] }, result: awkward,
        status: 'failed', willRetry: true, attempt: 2, error: { name: 'Error', message: awkward, stack: awkward },
      });
      const plain = record({ data: null, result: undefined });
      await copyAuditRows(store.driver, toCopyText([r, plain]));

      expect(await rowOf(r.jobId)).toMatchObject({
        executionId: r.executionId, jobId: r.jobId, type: 'echo', userId: awkward, data: { message: awkward, list: [awkward, null, 1.5] },
        result: awkward, error: { name: 'Error', message: awkward, stack: awkward }, status: 'failed', attempt: 2, willRetry: true,
        worker: 'host:1', queuedAt: new Date(r.queuedAt), startedAt: new Date(r.startedAt), completedAt: new Date(r.completedAt), durationMs: 500,
      });
      expect(await rowOf(plain.jobId)).toMatchObject({ userId: null, data: null, result: null, error: null, willRetry: false });
    });

    test('times land to the millisecond, whichever second they fall in (before 1970, fractional, far future)', async () => {
      const cases = [
        [1_700_000_000_999.9, 1_700_000_001_000, 1_700_000_001_001],
        [-1.5, -999, -1001.25],
        [0, 253_402_300_799_999, 1_700_000_000_007],
      ] as const;
      const rows = cases.map(([queuedAt, startedAt, completedAt]) => record({ queuedAt, startedAt, completedAt }));
      await copyAuditRows(store.driver, toCopyText(rows));
      for (const r of rows) {
        expect(await rowOf(r.jobId)).toMatchObject({
          queuedAt: new Date(r.queuedAt), startedAt: new Date(r.startedAt), completedAt: new Date(r.completedAt),
        });
      }
    });

    test('a run longer than duration_ms holds (24.8 days) gets its row on both paths: exact times, the largest duration', async () => {
      const startedAt = 1_700_000_000_000;
      const completedAt = startedAt + 30 * 86_400_000;
      const long = () => record({ startedAt, completedAt, durationMs: completedAt - startedAt });
      const [copied, inserted] = [long(), long()];
      await copyAuditRows(store.driver, toCopyText([copied]));
      expect(await writeAuditRows(store.db, store.driver, [record({ executionId: copied.executionId, jobId: copied.jobId }), inserted])).toEqual([inserted.executionId]);
      for (const r of [copied, inserted]) {
        expect(await rowOf(r.jobId)).toMatchObject({ startedAt: new Date(startedAt), completedAt: new Date(completedAt), durationMs: 2_147_483_647 });
      }
    });

    test('a COPY repeating a recorded execution fails with a unique violation, and the store stays usable', async () => {
      const r = record();
      await copyAuditRows(store.driver, toCopyText([r]));
      const error = await copyAuditRows(store.driver, toCopyText([record(), r])).then(() => null, (e: unknown) => e);
      expect(sqlState(error)).toBe('23505');
      expect((await store.getJobHistory({ jobId: r.jobId })).rows).toHaveLength(1);
      expect((await store.ping()).status).toBe('up');
    });

    test('writeAuditRows falls back to the INSERT path: recorded executions are skipped, new ones land', async () => {
      const old = record();
      await copyAuditRows(store.driver, toCopyText([old]));
      const fresh = record();
      expect(await writeAuditRows(store.db, store.driver, [old, fresh])).toEqual([fresh.executionId]);
      expect(await rowOf(fresh.jobId)).toBeDefined();
    });
  });
}
