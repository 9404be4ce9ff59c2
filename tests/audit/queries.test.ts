/** History filters and pagination, metrics math, health thresholds and retention, on both stores. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { InvalidAuditQueryError, sql, type AuditStore, type NewWorkerJob } from '@sluice/db';
import type { TestDatabase } from '../helpers/db.ts';
import { openMigratedStore } from './support.ts';

const NOW = Date.parse('2030-06-01T12:00:00Z');
const MINUTE = 60_000;
const DAY = 86_400_000;
let seq = 0;

/** A row that completed `agoMs` before NOW, took `durationMs`. */
function row(type: string, status: 'completed' | 'failed', durationMs: number, agoMs: number, extra: Partial<NewWorkerJob> = {}): NewWorkerJob {
  const completedAt = new Date(NOW - agoMs);
  const jobId = extra.jobId ?? `${type}-${++seq}`;
  return {
    executionId: `${jobId}:${++seq}:1`, jobId, type, userId: null, data: {}, result: null, error: status === 'failed' ? { name: 'Error', message: 'boom' } : null,
    status, attempt: 1, willRetry: false, worker: 'h:1', queuedAt: new Date(completedAt.getTime() - durationMs - 5),
    startedAt: new Date(completedAt.getTime() - durationMs), completedAt, durationMs, ...extra,
  };
}

for (const path of ['postgres', 'pglite'] as const) {
  describe(`audit queries (${path})`, () => {
    let db: TestDatabase;
    let store: AuditStore;

    beforeAll(async () => {
      ({ db, store } = await openMigratedStore(path, 'audit-queries'));
      // `timed`: durations 10, 20, ..., 100 ms, all completed, one per minute.
      await store.insertExecutions(Array.from({ length: 10 }, (_, i) => row('timed', 'completed', (i + 1) * 10, (i + 1) * MINUTE)));
      // Health: critical 4/10, warning 7/10, ok 9/10, boundaries exactly 50% and 80%.
      for (const [type, good] of [['critical', 4], ['warning', 7], ['healthy', 9], ['half', 5], ['eighty', 8]] as const) {
        await store.insertExecutions(Array.from({ length: 10 }, (_, i) => row(type, i < good ? 'completed' : 'failed', 5, 2 * MINUTE)));
      }
      // `retrying`: two retried failures then a success, plus one final failure: 1 of 2 jobs succeeded.
      await store.insertExecutions([
        row('retrying', 'failed', 5, 3 * MINUTE, { jobId: 'r1', attempt: 1, willRetry: true }),
        row('retrying', 'failed', 5, 2 * MINUTE, { jobId: 'r1', attempt: 2, willRetry: true }),
        row('retrying', 'completed', 5, MINUTE, { jobId: 'r1', attempt: 3 }),
        row('retrying', 'failed', 5, MINUTE, { jobId: 'r2', attempt: 1, willRetry: false }),
      ]);
      // Old rows, outside any window: 40 days old.
      await store.insertExecutions(Array.from({ length: 7 }, () => row('ancient', 'completed', 1, 40 * DAY)));
    }, 30_000);

    afterAll(async () => {
      await store?.close();
      await db?.drop();
    });

    test('metrics: count, success rate and p50/p95/max against known durations', async () => {
      const m = await store.getJobMetrics({ type: 'timed', windowMs: 3600_000, now: new Date(NOW) });
      expect(m).toMatchObject({ type: 'timed', count: 10, completed: 10, failed: 0, retried: 0, successRate: 1, maxDurationMs: 100 });
      // percentile_cont interpolates: p50 of 10..100 is 55; p95 sits at position 0.95 * 9 = 8.55,
      // 90 + 0.55 * 10 = 95.5 exactly, 95.4999... in float8, so 95 once rounded to whole ms.
      expect(m.p50DurationMs).toBe(55);
      expect(m.p95DurationMs).toBe(95);
      expect(m.lastRunAt?.getTime()).toBe(NOW - MINUTE);
      // The window counts only executions that completed inside it: the last 5 minutes hold 10..50 ms.
      const recent = await store.getJobMetrics({ type: 'timed', windowMs: 5 * MINUTE, now: new Date(NOW) });
      expect(recent).toMatchObject({ count: 5, maxDurationMs: 50, p50DurationMs: 30 });
    });

    test('metrics: retried attempts count as failures but not as lost jobs', async () => {
      const m = await store.getJobMetrics({ type: 'retrying', windowMs: 3600_000, now: new Date(NOW) });
      expect(m).toMatchObject({ count: 4, completed: 1, failed: 3, retried: 2, successRate: 0.5 });
    });

    test('metrics: an empty window and all types together', async () => {
      expect(await store.getJobMetrics({ type: 'nope', windowMs: 60_000, now: new Date(NOW) })).toMatchObject({ count: 0, successRate: null, p95DurationMs: null, lastRunAt: null });
      const all = await store.getJobMetrics({ windowMs: 3600_000, now: new Date(NOW) });
      expect(all.type).toBeNull();
      expect(all.count).toBe(10 + 50 + 4);
      const byType = await store.getJobMetricsByType({ windowMs: 3600_000, now: new Date(NOW) });
      expect(byType.map((m) => m.type)).toEqual(['critical', 'eighty', 'half', 'healthy', 'retrying', 'timed', 'warning']);
      await expect(store.getJobMetrics({ windowMs: 0 })).rejects.toBeInstanceOf(InvalidAuditQueryError);
      // Windows reaching before year 1 were a raw database error or an Invalid Date.
      await expect(store.getJobMetrics({ windowMs: 1e15 })).rejects.toBeInstanceOf(InvalidAuditQueryError);
      await expect(store.getJobMetrics({ windowMs: 1e16 })).rejects.toBeInstanceOf(InvalidAuditQueryError);
      expect((await store.getJobMetrics({ windowMs: 100 * 365 * DAY, now: new Date(NOW) })).count).toBeGreaterThan(0);
    });

    test('health: critical below 50% success, warning below 80%, ok otherwise', async () => {
      const health = Object.fromEntries((await store.getHealth({ windowMs: 3600_000, now: new Date(NOW) })).map((h) => [h.type, h.status]));
      expect(health).toEqual({ critical: 'critical', half: 'warning', warning: 'warning', eighty: 'ok', healthy: 'ok', retrying: 'warning', timed: 'ok' });
    });

    test('health: a type whose every run failed and waits for a retry is a warning, though no job has finished', async () => {
      await store.insertExecutions([
        row('stuck', 'failed', 5, MINUTE, { jobId: 's1', attempt: 1, willRetry: true }),
        row('stuck', 'failed', 5, MINUTE, { jobId: 's2', attempt: 1, willRetry: true }),
      ]);
      const stuck = (await store.getHealth({ windowMs: 3600_000, now: new Date(NOW) })).find((h) => h.type === 'stuck');
      expect(stuck).toMatchObject({ successRate: null, retried: 2, status: 'warning' });
    });

    test('history: filters by type, status, job id and completion time', async () => {
      expect((await store.getJobHistory({ type: 'critical', status: 'failed', limit: 100 })).rows).toHaveLength(6);
      expect((await store.getJobHistory({ jobId: 'r1' })).rows.map((r) => r.attempt)).toEqual([3, 2, 1]);
      const window = await store.getJobHistory({ type: 'timed', since: new Date(NOW - 3 * MINUTE), until: new Date(NOW - 2 * MINUTE) });
      expect(window.rows.map((r) => r.durationMs)).toEqual([20, 30]);
    });

    test('history: cursor pages are stable while new rows arrive', async () => {
      const first = await store.getJobHistory({ type: 'timed', limit: 4 });
      expect(first.rows.map((r) => r.durationMs)).toEqual([10, 20, 30, 40]);
      // A late row (an audit backlog draining) lands between two pages, newer than all of them.
      await store.insertExecutions([row('timed', 'completed', 1, 0)]);
      const second = await store.getJobHistory({ type: 'timed', limit: 4, cursor: first.nextCursor });
      const third = await store.getJobHistory({ type: 'timed', limit: 4, cursor: second.nextCursor });
      expect(second.rows.map((r) => r.durationMs)).toEqual([50, 60, 70, 80]);
      expect(third.rows.map((r) => r.durationMs)).toEqual([90, 100]);
      expect(third.nextCursor).toBeNull();
    });

    test('history: pages walk every row when completion times differ by microseconds, before 1970 and in the year 3000', async () => {
      const { sql, workerJobs } = await import('@sluice/db');
      // Sluice writes milliseconds, but rows written with SQL (now(), an import) keep microseconds.
      await store.insertExecutions(Array.from({ length: 5 }, (_, i) => row('micro', 'completed', 1, 0, { jobId: `micro-${i + 1}` })));
      await store.db.update(workerJobs)
        .set({ completedAt: sql`timestamptz '2025-01-01T00:00:02.123Z' + (substr(${workerJobs.jobId}, 7)::int * interval '100 microseconds')` })
        .where(sql`${workerJobs.type} = 'micro'`);
      await store.insertExecutions([row('prehistoric', 'completed', 1, NOW + DAY), row('prehistoric', 'completed', 1, NOW + DAY + 1)]);
      // Past 2^53 microseconds (year 2255), where a float8 conversion would round the cursor.
      await store.insertExecutions(Array.from({ length: 5 }, (_, i) => row('far', 'completed', 1, 0, { jobId: `far-${i + 1}` })));
      await store.db.update(workerJobs)
        .set({ completedAt: sql`timestamptz '3000-01-01T00:00:00Z' + (substr(${workerJobs.jobId}, 5)::int * interval '1 microsecond')` })
        .where(sql`${workerJobs.type} = 'far'`);

      for (const type of ['micro', 'prehistoric', 'far']) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page: Awaited<ReturnType<AuditStore['getJobHistory']>> = await store.getJobHistory({ type, limit: 1, cursor });
          seen.push(...page.rows.map((r) => r.jobId));
          cursor = page.nextCursor;
          // A cursor that never moves on would page forever: stop well past the rows there are.
        } while (cursor && seen.length < 20);
        expect(seen).toHaveLength(type === 'prehistoric' ? 2 : 5);
        expect(new Set(seen).size).toBe(seen.length);
      }

      // until takes in all of its millisecond, since starts at its first microsecond.
      const micro = (q: { since?: string; until?: string }) =>
        store.getJobHistory({ type: 'micro', since: q.since ? new Date(q.since) : undefined, until: q.until ? new Date(q.until) : undefined }).then((p) => p.rows.length);
      expect(await micro({ until: '2025-01-01T00:00:02.123Z' })).toBe(5);
      expect(await micro({ until: '2025-01-01T00:00:02.122Z' })).toBe(0);
      expect(await micro({ since: '2025-01-01T00:00:02.123Z', until: '2025-01-01T00:00:02.123Z' })).toBe(5);
      expect(await micro({ since: '2025-01-01T00:00:02.124Z' })).toBe(0);
      expect((await store.getJobHistory({ type: 'far', until: new Date(253_402_300_799_999) })).rows).toHaveLength(5);
      // Rows from years 1 to 99 (and BC) come back in their own year; drizzle's timestamp column read 0001 as 2001.
      const early = ['0001-01-01 00:00:00.000001+00', '0049-06-01 12:00:00+00', '0099-12-31 23:59:59.999+00', '0044-03-15 12:00:00+00 BC'];
      await store.insertExecutions(early.map((_, i) => row('early', 'completed', 1, 0, { jobId: `early-${i}` })));
      for (const [i, text] of early.entries()) {
        await store.db.update(workerJobs).set({ completedAt: sql`${text}::timestamptz` }).where(sql`${workerJobs.jobId} = ${`early-${i}`}`);
      }
      expect((await store.getJobHistory({ type: 'early' })).rows.map((r) => [r.jobId, r.completedAt.toISOString()])).toEqual([
        ['early-2', '0099-12-31T23:59:59.999Z'],
        ['early-1', '0049-06-01T12:00:00.000Z'],
        ['early-0', '0001-01-01T00:00:00.000Z'],
        ['early-3', '-000043-03-15T12:00:00.000Z'],
      ]);

      // As strings (what the API and the CLI pass), to the microsecond. The rows are at .1231 to .1235.
      const microText = (since?: string, until?: string) => store.getJobHistory({ type: 'micro', since, until }).then((p) => p.rows.map((r) => r.jobId));
      expect(await microText('2025-01-01T00:00:02.1235Z')).toEqual(['micro-5']);
      expect(await microText('2025-01-01T00:00:02.12341Z')).toEqual(['micro-5']);
      expect(await microText('2025-01-01 01:00:02.1234+01:00')).toEqual(['micro-5', 'micro-4']);
      expect(await microText(undefined, '2025-01-01T00:00:02.1232Z')).toEqual(['micro-2', 'micro-1']);
      expect(await microText(undefined, '2025-01-01T00:00:02.123Z')).toHaveLength(5);
      // Past the microsecond, no row lies between: since rounds up, until down.
      expect(await microText('2025-01-01T00:00:02.1234000001Z')).toEqual(['micro-5']);
      expect(await microText(undefined, '2025-01-01T00:00:02.1233999z')).toEqual(['micro-3', 'micro-2', 'micro-1']);

      // A cursor from before microseconds (`<ms>.<id>`) still continues where it left off.
      const first = await store.getJobHistory({ type: 'prehistoric', limit: 1 });
      const legacy = Buffer.from(`${first.rows[0]!.completedAt.getTime()}.${first.rows[0]!.id}`).toString('base64url');
      const next = await store.getJobHistory({ type: 'prehistoric', limit: 1, cursor: legacy });
      expect(next.rows.map((r) => r.id)).not.toContain(first.rows[0]!.id);
      expect(next.rows).toHaveLength(1);
    });

    test('query: an ad-hoc read gives an array of rows, the same on both stores', async () => {
      const rows = await store.query<{ runs: number; slowest: number }>(sql`select count(*)::int as runs, max(duration_ms) as slowest from worker_jobs where type = 'eighty'`);
      expect(rows).toEqual([{ runs: 10, slowest: 5 }]);
      expect(await store.query(sql`select 1 as one from worker_jobs where type = 'no-such-type'`)).toEqual([]);
    });

    test("query: a refused query says why in its message; a misspelt table is not called a missing audit table", async () => {
      const typo = await store.query(sql`select * from worker_jobz`).catch((e) => e);
      expect(typo.name).toBe('AuditQueryFailedError');
      expect(typo.message).toBe('the audit store refused the query: relation "worker_jobz" does not exist');
      const syntax = await store.query(sql`selec 1`).catch((e) => e);
      expect(syntax.message).toBe('the audit store refused the query: syntax error at or near "selec"');
      const column = await store.query(sql`select nosuch from worker_jobs`).catch((e) => e);
      expect(column.message).toBe('the audit store refused the query: column "nosuch" does not exist');
    });

    test('history: bad arguments name the field', async () => {
      const cursorOf = (text: string) => Buffer.from(text).toString('base64url');
      const cases = [
        [{ limit: 0 }, 'limit'],
        [{ limit: 5000 }, 'limit'],
        [{ cursor: 'garbage!' }, 'cursor'],
        // Well formed, but past any date: once a database error (503), now the caller's mistake.
        [{ cursor: cursorOf('9999999999999999999999999.1') }, 'cursor'],
        [{ cursor: cursorOf('1.99999999999999999999') }, 'cursor'],
        [{ status: 'lost' as never }, 'status'],
        [{ since: new Date('x') }, 'since'],
        [{ since: new Date('0000-01-01T00:00:00Z') }, 'since'],
        [{ until: new Date(8.64e15) }, 'until'],
        [{ since: 'yesterday' }, 'since'],
        [{ since: '2026-02-30T00:00:00Z' }, 'since'],
        [{ until: '2026-12-01T24:00:00Z' }, 'until'],
        [{ until: '2026-12-01T03:00:00+24:00' }, 'until'],
        [{ since: '0001-01-01T00:30:00+01:00' }, 'since'],
        // No stored time is in a leap second: refused rather than guessed at.
        [{ until: '2024-12-31T23:59:60Z' }, 'until'],
        [{ until: '2026-02-30T23:59:60Z' }, 'until'],
        // Later than until, even if only in its microseconds.
        [{ since: '2025-01-01T00:00:02.1235Z', until: '2025-01-01T00:00:02.1231Z' }, 'since'],
        [{ since: new Date(NOW), until: new Date(NOW - 1) }, 'since'],
        // Postgres text cannot hold U+0000: a filter with one is refused, not reported as an outage.
        [{ jobId: 'nul\u0000id' }, 'jobId'],
      ] as const;
      for (const [query, field] of cases) {
        const error = await store.getJobHistory(query).catch((e) => e);
        expect(error).toBeInstanceOf(InvalidAuditQueryError);
        expect(error.field).toBe(field);
      }
      const leap = await store.getJobHistory({ until: '2024-12-31T23:59:60Z' }).catch((e) => e);
      expect(leap.message).toBe('until "2024-12-31T23:59:60Z" is in a leap second (:60), which no stored time can be (Postgres has none): give :59.999999 or the next minute\'s :00');
      const notADay = await store.getJobHistory({ until: '2026-02-30T23:59:60Z' }).catch((e) => e);
      expect(notADay.message).toStartWith('until must be an RFC 3339 date-time from year 1 to 9999');
    });

    test('retention: deletes only rows older than the cutoff, in bounded batches', async () => {
      const old = await store.insertExecutions(Array.from({ length: 5 }, () => row('stale', 'completed', 1, 0)));
      expect(old).toHaveLength(5);
      // created_at defaults to now(); backdate these to 31 days ago.
      const { sql, workerJobs } = await import('@sluice/db');
      await store.db.update(workerJobs).set({ createdAt: sql`now() - interval '31 days'` }).where(sql`${workerJobs.type} = 'stale'`);
      const before = (await store.getJobHistory({ limit: 1000 })).rows.length;
      const deleted = await store.deleteExecutionsBefore(new Date(Date.now() - 30 * DAY), { batchSize: 2 });
      expect(deleted).toBe(5);
      const after = await store.getJobHistory({ limit: 1000 });
      expect(after.rows.length).toBe(before - 5);
      expect(after.rows.some((r) => r.type === 'stale')).toBe(false);
      expect(after.rows.some((r) => r.type === 'ancient')).toBe(true); // completed long ago, but recorded recently
    });

    test('retention: deletes exactly the rows written before the cutoff, whatever their ids, across ties at batch edges', async () => {
      const { sql, workerJobs } = await import('@sluice/db');
      const cutoff = new Date('2020-01-01T00:00:00Z');
      const at = (iso: string) => ({ createdAt: new Date(iso) });
      const expired = [
        ...Array.from({ length: 3 }, (_, i) => row('prune-low', 'completed', 1, 0, at(`2019-12-0${i + 1}T00:00:00Z`))),
        // Five rows of one instant, as one COPY batch writes them (created_at is its transaction's time):
        // with two rows per batch, the instant spans three batches.
        ...Array.from({ length: 5 }, () => row('prune-tie', 'completed', 1, 0, at('2019-12-15T00:00:00Z'))),
        // Three rows within one millisecond, apart by microseconds (set below).
        ...Array.from({ length: 3 }, (_, i) => row('prune-micro', 'completed', 1, 0, { jobId: `prune-micro-${i + 1}` })),
        // One microsecond before the cutoff (set below).
        row('prune-edge', 'completed', 1, 0),
      ];
      const kept = [row('prune-kept', 'completed', 1, 0, at('2020-01-01T00:00:00Z')), row('prune-kept', 'completed', 1, 0, at('2020-02-01T00:00:00Z'))];
      await store.insertExecutions([...expired, ...kept]);
      // The oldest rows last, so they have the highest ids (an import, a restored backlog).
      const late = Array.from({ length: 3 }, (_, i) => row('prune-late', 'completed', 1, 0, at(`2019-11-0${i + 1}T00:00:00Z`)));
      await store.insertExecutions(late);
      await store.db.update(workerJobs)
        .set({ createdAt: sql`timestamptz '2019-12-20T00:00:00.000Z' + (substr(${workerJobs.jobId}, 13)::int * interval '1 microsecond')` })
        .where(sql`${workerJobs.type} = 'prune-micro'`);
      await store.db.update(workerJobs).set({ createdAt: sql`timestamptz '2019-12-31T23:59:59.999999Z'` }).where(sql`${workerJobs.type} = 'prune-edge'`);
      const everyOther = (await store.getJobHistory({ limit: 1000 })).rows.filter((r) => !r.type.startsWith('prune-')).map((r) => r.id);

      expect(await store.deleteExecutionsBefore(cutoff, { batchSize: 2 })).toBe(expired.length + late.length);
      const left = (await store.getJobHistory({ limit: 1000 })).rows;
      expect(left.filter((r) => r.type.startsWith('prune-')).map((r) => r.createdAt.toISOString()).sort()).toEqual(['2020-01-01T00:00:00.000Z', '2020-02-01T00:00:00.000Z']);
      // Rows written after the cutoff (every other row here, written now) are untouched.
      expect(left.filter((r) => !r.type.startsWith('prune-')).map((r) => r.id)).toEqual(everyOther);
      // Nothing left to do: a second run deletes nothing, and an aborted run does not start.
      expect(await store.deleteExecutionsBefore(cutoff, { batchSize: 2 })).toBe(0);
      expect(await store.deleteExecutionsBefore(new Date(), { signal: AbortSignal.abort() })).toBe(0);
    });
  });
}

test('timestamptz text as Postgres prints it, in any zone it may be set to, reads as the same instant', async () => {
  const { parseTimestamptz } = await import('../../packages/db/src/schema.ts');
  // Before standard time zones, an offset carries seconds (Amsterdam's local mean time).
  expect(parseTimestamptz('1850-01-01 00:00:00+00:19:32').toISOString()).toBe('1849-12-31T23:40:28.000Z');
  expect(parseTimestamptz('2026-12-01 03:00:00.123456-05').toISOString()).toBe('2026-12-01T08:00:00.123Z');
  expect(parseTimestamptz('2026-12-01 08:45:00+05:45').toISOString()).toBe('2026-12-01T03:00:00.000Z');
  expect(parseTimestamptz('0001-12-31 22:00:00-01 BC').toISOString()).toBe('0000-12-31T23:00:00.000Z');
  expect(parseTimestamptz('0049-06-01 12:00:00+00').toISOString()).toBe('0049-06-01T12:00:00.000Z');
});
