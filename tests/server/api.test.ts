/** The jobs API end to end: a real server process with workers, Redis and Postgres; every route's success and bad-input paths. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { Redis } from 'ioredis';
import { loadConfig } from '@sluice/config';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager, sluiceKeys } from '@sluice/queue';
import { testEnv } from '../helpers/env.ts';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.ts';
import { deletePrefix, SERVER_HOOK_TIMEOUT_MS, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

// Jobs, workers and the audit writer take seconds; bun's default per-test timeout is 5 s.
setDefaultTimeout(60_000);

const TOKEN = 'api-test-token';
let db: TestDatabase;
let server: ServerProcess;

beforeAll(async () => {
  db = await createTestDatabase('api');
  server = await spawnServer({
    label: 'api',
    authorization: `Bearer ${TOKEN}`,
    env: { ...db.env, ADMIN_TOKEN: TOKEN, WORKER_COUNT: '1', WORKER_QUEUE_CONCURRENCY: '5' },
  });
}, SERVER_HOOK_TIMEOUT_MS);

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
  await deletePrefix(server?.prefix ?? 'none');
  await db?.drop();
});

const api = (path: string, init?: Parameters<ServerProcess['request']>[1]) => server.request(`/api/v1/jobs${path}`, init);

async function submit(body: Record<string, unknown>): Promise<string> {
  const response = await api('', { method: 'POST', json: body });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

async function expectError(response: Response, status: number, code: string, field?: string) {
  const body = (await response.json()) as { error: { code: string; message: string; field?: string } };
  expect({ status: response.status, code: body.error.code }).toEqual({ status, code });
  expect(body.error.message.length).toBeGreaterThan(0);
  if (field !== undefined) expect(body.error.field).toBe(field);
  return body.error;
}

async function jobState(id: string): Promise<Record<string, any>> {
  return (await (await api(`/${id}`)).json()) as Record<string, any>;
}

const waitForState = (id: string, state: string) =>
  waitUntil(`job ${id} to be ${state}`, async () => {
    const job = await jobState(id);
    return job.state === state && job;
  });

/**
 * Audit rows arrive through the writer's batch loop. The record is appended before BullMQ
 * marks the job finished, so a row can be visible while the job is still `active`: wait for both.
 */
const waitForAudit = (id: string, rows = 1) =>
  waitUntil(`${rows} audit row(s) for job ${id}, and the job finished`, async () => {
    const job = await jobState(id);
    return job.audit?.length >= rows && job.state !== 'active' && job;
  });

describe('POST /api/v1/jobs', () => {
  test('a valid job is accepted with 201 and its id, and runs', async () => {
    const id = await submit({ type: 'echo', data: { message: 'hello' }, priority: 'high', attempts: 2 });
    const job = await waitForAudit(id);
    expect(job).toMatchObject({ id, type: 'echo', state: 'completed', priority: 'high', maxAttempts: 2, attemptsMade: 1, data: { message: 'hello' } });
    expect(job.result.message).toBe('hello');
    expect(job.audit[0]).toMatchObject({ jobId: id, type: 'echo', status: 'completed', attempt: 1 });
  });

  test('an unknown type is a 400 naming the field', async () => {
    await expectError(await api('', { method: 'POST', json: { type: 'nope', data: {} } }), 400, 'UNKNOWN_JOB_TYPE', 'type');
    // A huge unknown type is not echoed back whole.
    const huge = await api('', { method: 'POST', json: { type: 'x'.repeat(100_000), data: {} } });
    expect(huge.status).toBe(400);
    expect((await huge.text()).length).toBeLessThan(1000);
    await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, jobId: 'j'.repeat(513) } }), 400, 'INVALID_BODY', 'jobId');
  });

  test('invalid data is a 400 naming the payload field', async () => {
    const error = await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x', sleepMs: -5 } } }), 400, 'INVALID_JOB_DATA', 'data/sleepMs');
    expect(error.message).toContain('sleepMs');
  });

  test('body schema problems are 400s naming the field', async () => {
    await expectError(await api('', { method: 'POST', json: { data: { message: 'x' } } }), 400, 'INVALID_BODY', 'type');
    await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, delayMs: 5 } }), 400, 'INVALID_BODY', 'delayMs');
    await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, delay: -1 } }), 400, 'INVALID_BODY', 'delay');
    // A delay past a year (here past what a date can hold) used to be accepted, and the job could then never be read.
    await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, delay: 9e15, jobId: 'far-future' } }), 400, 'INVALID_BODY', 'delay');
    await expectError(await api('/far-future'), 404, 'JOB_NOT_FOUND');
    await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, priority: 'urgent' } }), 400, 'INVALID_BODY', 'priority');
    await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, attempts: 0 } }), 400, 'INVALID_BODY', 'attempts');
    // BullMQ's largest priority is 2^21 - 1; 2^21 used to reach BullMQ and come back a 500.
    const tooLow = await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, priority: 2_097_152 } }), 400, 'INVALID_BODY', 'priority');
    expect(tooLow.message).toContain('a whole number from 1 to 2097151');
    expect((await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, priority: 2_097_151, delay: 60_000 } })).status).toBe(201);
  });

  test('a number in the body is a JSON number: a string is refused, not read as one', async () => {
    // Elysia alone would queue these with a 16 ms delay, 100 attempts and priority 5.
    const delay = await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, delay: '0x10', jobId: 'string-delay' } }), 400, 'INVALID_BODY', 'delay');
    expect(delay.message).toStartWith('invalid body: delay must be a whole number of milliseconds');
    await expectError(await api('/string-delay'), 404, 'JOB_NOT_FOUND');
    await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, attempts: '1e2' } }), 400, 'INVALID_BODY', 'attempts');
    await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, priority: '5' } }), 400, 'INVALID_BODY', 'priority');
    await expectError(await api('/queue/clean', { method: 'POST', json: { state: 'failed', olderThanMs: '0' } }), 400, 'INVALID_BODY', 'olderThanMs');
    await expectError(await api('/schedules/string-every', { method: 'PUT', json: { type: 'echo', data: { message: 'x' }, everyMs: '60000' } }), 400, 'INVALID_BODY', 'everyMs');
    // A priority's name is still a string.
    expect((await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, priority: 'low', delay: 60_000 } })).status).toBe(201);
  });

  test('a body that is not JSON is a 400', async () => {
    await expectError(await api('', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":' }), 400, 'INVALID_JSON');
    // JSON, but not an object: said so, rather than as a missing "type".
    for (const [body, what] of [['[]', 'an array'], ['"echo"', 'string'], ['null', 'null'], ['7', 'number']]) {
      const error = await expectError(await api('', { method: 'POST', headers: { 'content-type': 'application/json' }, body }), 400, 'INVALID_BODY', 'body');
      expect(error.message).toBe(`invalid body: the body must be a JSON object, got ${what}`);
    }
  });

  test('a jobId with white space at its start or end is a 400 naming jobId, and nothing is queued', async () => {
    const jobId = ` padded-${crypto.randomUUID()} `;
    const error = await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, jobId } }), 400, 'INVALID_OPTION', 'jobId');
    expect(error.message).toStartWith('jobId must not start or end with white space');
    expect((await api(`/${encodeURIComponent(jobId.trim())}`)).status).toBe(404);
  });

  test('a jobId reserved by BullMQ (numeric, or NaN, which it reads as one) is a 400 naming jobId', async () => {
    for (const jobId of ['424242', 'NaN']) {
      await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, jobId } }), 400, 'INVALID_OPTION', 'jobId');
    }
  });

  test('20 concurrent submits of one jobId: exactly one 201, the rest 409, and the stored job is the winner', async () => {
    const jobId = `race-${crypto.randomUUID()}`;
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api('', { method: 'POST', json: { type: 'echo', data: { message: `submit ${i}` }, jobId, delay: 60_000 } })),
    );
    const created = responses.flatMap((response, i) => (response.status === 201 ? [i] : []));
    expect(created).toHaveLength(1);
    for (const response of responses) if (response.status !== 201) expect(((await response.json()) as any).error.code).toBe('JOB_EXISTS');
    expect((await jobState(jobId)).data).toEqual({ message: `submit ${created[0]}` });
  });

  test("a jobId equal to one of the queue's own key names, or to a path of this API, is a 400, and the queue still works", async () => {
    for (const jobId of ['repeat', 'meta', 'wait', 'stats', 'history', 'schedules']) {
      await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'x' }, jobId } }), 400, 'INVALID_OPTION', 'jobId');
    }
    expect((await api('/schedules')).status).toBe(200);
  });

  test('a second submit with the same jobId is a 409 and leaves the first job alone', async () => {
    const jobId = `dup-${crypto.randomUUID()}`;
    expect(await submit({ type: 'echo', data: { message: 'first' }, jobId, delay: 60_000 })).toBe(jobId);
    await expectError(await api('', { method: 'POST', json: { type: 'echo', data: { message: 'second' }, jobId } }), 409, 'JOB_EXISTS', 'jobId');
    expect((await jobState(jobId)).data).toEqual({ message: 'first' });
  });

  test('a delayed job waits in the delayed state', async () => {
    const id = await submit({ type: 'echo', data: { message: 'later' }, delay: 60_000 });
    const job = await jobState(id);
    expect(job.state).toBe('delayed');
    expect(Date.parse(job.runAt) - Date.parse(job.queuedAt)).toBe(60_000);
  });

  test("a job waiting to retry shows when the retry runs, not its queued time plus the backoff", async () => {
    const id = await submit({ type: 'echo', data: { message: 'again', failTimes: 1 }, delay: 3000, attempts: 2 });
    const waiting = await waitUntil(`job ${id} to wait for its retry`, async () => {
      const job = await jobState(id);
      return job.state === 'delayed' && job.attemptsMade === 1 && job;
    });
    // The backoff counts from the failure, which came after the first run started.
    expect(Date.parse(waiting.runAt)).toBeGreaterThan(Date.parse(waiting.startedAt));
    // Waiting to retry, it shows why the last attempt failed.
    expect(waiting.error).toContain('failing on purpose');
    const done = await waitForAudit(id, 2);
    expect(done.state).toBe('completed');
    expect(done.runAt).toBeNull();
    // Completed, it has no error: before, the first attempt's stayed. The audit row keeps it.
    expect({ error: done.error, stacktrace: done.stacktrace }).toEqual({ error: null, stacktrace: [] });
    expect(done.audit.find((row: { attempt: number }) => row.attempt === 1).error.message).toContain('failing on purpose');
    const retry = done.audit.find((row: { attempt: number }) => row.attempt === 2);
    expect(Date.parse(retry.startedAt)).toBeGreaterThanOrEqual(Date.parse(waiting.runAt));
  });
});

describe('GET/DELETE /api/v1/jobs/:id and POST /:id/retry', () => {
  test('an unknown id is a 404 for read, retry and remove', async () => {
    await expectError(await api('/no-such-job'), 404, 'JOB_NOT_FOUND', 'id');
    await expectError(await api('/no-such-job/retry', { method: 'POST' }), 404, 'JOB_NOT_FOUND');
    await expectError(await api('/no-such-job', { method: 'DELETE' }), 404, 'JOB_NOT_FOUND');
  });

  test('an id longer than a job id can be is a 400 naming the limit, for read, retry and remove', async () => {
    const long = 'x'.repeat(513);
    for (const [path, method] of [[`/${long}`, 'GET'], [`/${long}/retry`, 'POST'], [`/${long}`, 'DELETE']] as const) {
      // Before: "id must be a non-empty job id", for an id that is not empty.
      const refused = await expectError(await api(path, { method }), 400, 'INVALID_PARAMS', 'id');
      expect(refused.message).toBe('invalid params: id must be a job id of 1 to 512 characters');
    }
  });

  test("the queue's own keys are not jobs: reading, retrying or removing one is a 404 and changes nothing", async () => {
    const key = `own-keys-${crypto.randomUUID().slice(0, 8)}`;
    expect((await api(`/schedules/${key}`, { method: 'PUT', json: { type: 'echo', data: { message: 'tick' }, everyMs: 600_000 } })).status).toBe(200);
    expect(await (await api('/queue/pause', { method: 'POST' })).json()).toEqual({ paused: true });
    try {
      // Before: `meta` read as a made-up job (200), `id` and `events` as a 500, and removing
      // `meta` un-paused the queue; removing `repeat:<key>` deleted the schedule.
      for (const id of ['meta', 'id', 'events', 'stalled-check', `repeat:${key}`, 'sluice:audit']) {
        await expectError(await api(`/${encodeURIComponent(id)}`), 404, 'JOB_NOT_FOUND', 'id');
        await expectError(await api(`/${encodeURIComponent(id)}/retry`, { method: 'POST' }), 404, 'JOB_NOT_FOUND');
        await expectError(await api(`/${encodeURIComponent(id)}`, { method: 'DELETE' }), 404, 'JOB_NOT_FOUND');
      }
      expect(((await (await api('/stats')).json()) as any).paused).toBe(true);
      const schedule = (await (await api(`/schedules/${key}`)).json()) as any;
      expect(schedule.key).toBe(key);
      // Its next run is a job, readable as one; removing it is the schedule's business.
      const runId = `repeat:${key}:${Date.parse(schedule.next)}`;
      expect(((await jobState(runId)) as any).state).toBe('delayed');
      const refused = await expectError(await api(`/${encodeURIComponent(runId)}`, { method: 'DELETE' }), 409, 'JOB_SCHEDULED');
      expect(refused.message).toContain(`DELETE /api/v1/jobs/schedules/${key}`);
    } finally {
      await api('/queue/resume', { method: 'POST' });
      await api(`/schedules/${key}`, { method: 'DELETE' });
    }
  });

  test('a failed job shows its error and audit row, and retry runs it again', async () => {
    const id = await submit({ type: 'echo', data: { message: 'boom', failPermanently: true } });
    const failed = await waitForAudit(id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toContain('failing permanently');
    expect(failed.audit[0]).toMatchObject({ status: 'failed', willRetry: false });

    const retried = await api(`/${id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(200);
    expect(await retried.json()).toMatchObject({ id, retried: true, from: 'failed' });
    // It fails again (permanently), leaving a second execution in the audit table.
    const again = await waitForAudit(id, 2);
    expect(again.state).toBe('failed');
  });

  test('eight retries of one failed job at once: one 200, the others 409 JOB_NOT_RETRYABLE, none a 500', async () => {
    const id = await submit({ type: 'echo', data: { message: 'retried at once', failPermanently: true } });
    expect((await waitForAudit(id)).state).toBe('failed');
    // Paused, so the retried job waits rather than failing again and becoming retryable anew.
    await api('/queue/pause', { method: 'POST' });
    try {
      const answers = await Promise.all(Array.from({ length: 8 }, () => api(`/${id}/retry`, { method: 'POST' })));
      const codes = await Promise.all(answers.map(async (r) => (r.status === 200 ? 'ok' : `${r.status} ${((await r.json()) as any).error.code}`)));
      // Before: BullMQ's "Job … is not in the failed state" from the losers, as 500 INTERNAL.
      expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
      expect(codes.filter((c) => c !== 'ok')).toEqual(Array(7).fill('409 JOB_NOT_RETRYABLE'));
    } finally {
      await api('/queue/resume', { method: 'POST' });
    }
  });

  test('a custom id used again lists only its own job\'s executions', async () => {
    const first = await submit({ type: 'echo', data: { message: 'first' }, jobId: 'used-twice' });
    await waitForAudit(first);
    expect((await api(`/${first}`, { method: 'DELETE' })).status).toBe(200);
    const second = await submit({ type: 'echo', data: { message: 'second' }, jobId: 'used-twice' });
    expect(second).toBe(first);
    const job = await waitForAudit(second);
    expect(job.audit.map((row: any) => row.data.message)).toEqual(['second']);
    // The history still has both: it lists what ran under that id.
    const history = (await (await api('/history?jobId=used-twice')).json()) as any;
    expect(history.rows.map((row: any) => row.data.message)).toEqual(['second', 'first']);
  });

  test('retrying a job that has not finished is a 409', async () => {
    const id = await submit({ type: 'echo', data: { message: 'not yet' }, delay: 60_000 });
    await expectError(await api(`/${id}/retry`, { method: 'POST' }), 409, 'JOB_NOT_RETRYABLE');
  });

  test('a waiting job can be removed; then it is gone', async () => {
    const id = await submit({ type: 'echo', data: { message: 'remove me' }, delay: 60_000 });
    const removed = await api(`/${id}`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect(await removed.json()).toEqual({ id, removed: true });
    await expectError(await api(`/${id}`), 404, 'JOB_NOT_FOUND');
  });

  test('a running job cannot be removed (409) and finishes normally', async () => {
    const id = await submit({ type: 'echo', data: { message: 'busy', sleepMs: 1500 } });
    await waitForState(id, 'active');
    await expectError(await api(`/${id}`, { method: 'DELETE' }), 409, 'JOB_LOCKED');
    await waitForState(id, 'completed');
  });
});

describe('reports: stats, health, failures, history', () => {
  let failedId: string;

  beforeAll(async () => {
    failedId = await submit({ type: 'echo', data: { message: 'report failure', failPermanently: true } });
    const okId = await submit({ type: 'echo', data: { message: 'report success' } });
    await waitForAudit(failedId);
    await waitForAudit(okId);
  });

  test('GET /stats gives counts per state and per-type metrics from the audit table', async () => {
    const response = await api('/stats');
    expect(response.status).toBe(200);
    const stats = (await response.json()) as any;
    expect(Object.keys(stats.counts).sort()).toEqual(['active', 'completed', 'delayed', 'failed', 'paused', 'prioritized', 'waiting']);
    expect(stats.counts.failed).toBeGreaterThanOrEqual(1);
    const echo = stats.types.find((t: any) => t.type === 'echo');
    expect(echo.completed).toBeGreaterThanOrEqual(1);
    expect(echo.failed).toBeGreaterThanOrEqual(1);
    expect(echo.successRate).toBeGreaterThan(0);
    expect(echo.successRate).toBeLessThan(1);
  });

  test('GET /stats rejects a bad window', async () => {
    await expectError(await api('/stats?windowMs=soon'), 400, 'INVALID_QUERY', 'windowMs');
    await expectError(await api('/stats?windowMs=5'), 400, 'INVALID_QUERY', 'windowMs');
  });

  test('GET /health reports overall and per-type health, Redis, workers and last processed time', async () => {
    const health = (await (await api('/health')).json()) as any;
    expect(['ok', 'warning', 'critical']).toContain(health.status);
    expect(health.redis.status).toBe('up');
    expect(health.database.status).toBe('up');
    expect(health.workers).toMatchObject({ up: 1, total: 1 });
    expect(Date.parse(health.lastProcessedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(health.types.map((t: any) => t.type).sort()).toEqual(['cleanupAuditLog', 'echo']);
    expect(['ok', 'warning', 'critical']).toContain(health.types.find((t: any) => t.type === 'echo').status);
    await expectError(await api('/health?windowMs=-1'), 400, 'INVALID_QUERY', 'windowMs');
  });

  test('GET /health counts a type only the audit table knows (retired, or from workers with another registry)', async () => {
    // Rows no worker of this server wrote: a type this server does not register, all failed.
    // They arrive as another producer's records on the audit stream, the way every row gets
    // in, so the same test runs where the server owns an embedded store no one else may open.
    const now = Date.now();
    const legacy = [1, 2, 3].map((g) => ({
      executionId: `legacy:${g}`, jobId: `legacy-${g}`, type: 'legacyReport', userId: null, data: {}, status: 'failed', attempt: 1,
      willRetry: false, worker: 'other-host:1', queuedAt: now, startedAt: now, completedAt: now, durationMs: 1,
    }));
    const redis = new Redis(process.env.REDIS_URL!);
    await redis.xadd(sluiceKeys(server.prefix).auditStream, '*', 'x', JSON.stringify(legacy));
    redis.disconnect();
    try {
      await waitUntil('the three legacyReport rows', async () =>
        ((await (await api('/history?type=legacyReport')).json()) as any).rows?.length === 3);
      const health = (await (await api('/health')).json()) as any;
      expect(health.types.find((t: any) => t.type === 'legacyReport')).toMatchObject({ status: 'critical', successRate: 0 });
      expect(health.status).toBe('critical');
      // The same rows, the same verdict as /stats gives them.
      const stats = (await (await api('/stats')).json()) as any;
      expect(stats.types.find((t: any) => t.type === 'legacyReport')).toMatchObject({ failed: 3, successRate: 0 });
    } finally {
      // On PGlite the rows stay (only the server may open its store): no later test here reads
      // the overall health, and the store goes in afterAll.
      if (db.sql) await db.sql`delete from worker_jobs where type = 'legacyReport'`;
    }
  });

  test('GET /failures lists recent failed jobs with their errors, filtered by type', async () => {
    const all = (await (await api('/failures?limit=50')).json()) as any;
    const mine = all.failures.find((f: any) => f.id === failedId);
    expect(mine).toMatchObject({ type: 'echo', data: { message: 'report failure', failPermanently: true } });
    expect(mine.error).toContain('failing permanently');
    const echoOnly = (await (await api('/failures?type=echo&limit=1')).json()) as any;
    expect(echoOnly.failures).toHaveLength(1);
    const none = (await (await api('/failures?type=cleanupAuditLog')).json()) as any;
    expect(none.failures).toEqual([]);
  });

  test('GET /failures rejects an unknown type and a bad limit', async () => {
    await expectError(await api('/failures?type=nope'), 400, 'UNKNOWN_JOB_TYPE', 'type');
    await expectError(await api('/failures?limit=0'), 400, 'INVALID_QUERY', 'limit');
    await expectError(await api('/failures?limt=5'), 400, 'INVALID_QUERY', 'limt');
  });

  test('GET /history filters audit rows and pages with a cursor', async () => {
    const failed = (await (await api(`/history?status=failed&jobId=${failedId}`)).json()) as any;
    expect(failed.rows).toHaveLength(1);
    expect(failed.rows[0]).toMatchObject({ jobId: failedId, status: 'failed', type: 'echo' });

    const first = (await (await api('/history?type=echo&limit=1')).json()) as any;
    expect(first.rows).toHaveLength(1);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (await (await api(`/history?type=echo&limit=1&cursor=${encodeURIComponent(first.nextCursor)}`)).json()) as any;
    expect(second.rows).toHaveLength(1);
    expect(second.rows[0].id).not.toBe(first.rows[0].id);

    const since = new Date(Date.now() + 60_000).toISOString();
    expect(((await (await api(`/history?since=${since}`)).json()) as any).rows).toEqual([]);

    // since/until reach the store as written, to the microsecond: the row is at .xyz000.
    const at: string = failed.rows[0].completedAt;
    const ids = async (query: string) => ((await (await api(`/history?jobId=${failedId}&${query}`)).json()) as any).rows.map((r: any) => r.jobId);
    expect(await ids(`since=${at}&until=${at}`)).toEqual([failedId]);
    expect(await ids(`since=${at.replace('Z', '001Z')}`)).toEqual([]);
    expect(await ids(`until=${at.replace('Z', '000Z')}`)).toEqual([failedId]);
    expect(await ids(`until=${new Date(Date.parse(at) - 1).toISOString().replace('Z', '999Z')}`)).toEqual([]);
  });

  test('GET /history rejects bad filters', async () => {
    await expectError(await api('/history?status=exploded'), 400, 'INVALID_QUERY', 'status');
    await expectError(await api('/history?since=yesterday'), 400, 'INVALID_QUERY', 'since');
    await expectError(await api('/history?limit=5000'), 400, 'INVALID_QUERY', 'limit');
    await expectError(await api('/history?cursor=not-a-cursor'), 400, 'INVALID_AUDIT_QUERY', 'cursor');
    await expectError(await api(`/history?cursor=${Buffer.from('9999999999999999999999999.1').toString('base64url')}`), 400, 'INVALID_AUDIT_QUERY', 'cursor');
    await expectError(await api('/history?since=0000-01-01T00:00:00Z'), 400, 'INVALID_AUDIT_QUERY', 'since');
    // RFC 3339 has no hour 24 and no dates in words; a day that does not exist is refused, not rolled on.
    await expectError(await api('/history?until=2026-12-01T24:00:00Z'), 400, 'INVALID_AUDIT_QUERY', 'until');
    await expectError(await api('/history?until=Tue%20Dec%2001%202026'), 400, 'INVALID_QUERY', 'until');
    await expectError(await api('/history?since=2026-02-30T00:00:00Z'), 400, 'INVALID_AUDIT_QUERY', 'since');
    // A range empty by construction, as the CLI refuses it.
    await expectError(await api('/history?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z'), 400, 'INVALID_AUDIT_QUERY', 'since');
  });

  test('the report queries take each name once and integers as digits', async () => {
    // Elysia alone would read these as 100, 16, 7 and the last of two values.
    const limit = await expectError(await api('/history?limit=1e2'), 400, 'INVALID_QUERY', 'limit');
    expect(limit.message).toBe('invalid query: limit must be a whole number from 1 to 1000');
    await expectError(await api('/failures?limit=0x10'), 400, 'INVALID_QUERY', 'limit');
    await expectError(await api('/stats?windowMs=%207000'), 400, 'INVALID_QUERY', 'windowMs');
    const twice = await expectError(await api('/history?limit=10&limit=1000'), 400, 'INVALID_QUERY', 'limit');
    expect(twice.message).toBe('invalid query: limit is given 2 times; give it once');
    await expectError(await api(`/history?jobId=${failedId}&jobId=other`), 400, 'INVALID_QUERY', 'jobId');
    // Digits as before.
    expect((await api('/history?limit=007')).status).toBe(200);
  });
});

describe('queue actions', () => {
  test('pause and resume', async () => {
    expect(await (await api('/queue/pause', { method: 'POST' })).json()).toEqual({ paused: true });
    expect(((await (await api('/stats')).json()) as any).paused).toBe(true);
    // Submitted while paused: it waits.
    const id = await submit({ type: 'echo', data: { message: 'after pause' } });
    // Every Sluice job carries a priority, so BullMQ holds it as `prioritized` rather than `waiting`.
    expect(['waiting', 'prioritized']).toContain((await jobState(id)).state);
    expect(await (await api('/queue/resume', { method: 'POST' })).json()).toEqual({ paused: false });
    await waitForState(id, 'completed');
  });

  test('retry-failed moves every failed job back to run', async () => {
    const id = await submit({ type: 'echo', data: { message: 'retry all', failPermanently: true } });
    await waitForState(id, 'failed');
    const body = (await (await api('/queue/retry-failed', { method: 'POST' })).json()) as any;
    expect(body.retried).toBeGreaterThanOrEqual(1);
    await waitForAudit(id, 2);
  });

  test('clean removes finished jobs older than the grace period', async () => {
    const id = await submit({ type: 'echo', data: { message: 'clean me' } });
    await waitForState(id, 'completed');
    const response = await api('/queue/clean', { method: 'POST', json: { state: 'completed', olderThanMs: 0 } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as any;
    expect(body.state).toBe('completed');
    expect(body.removed).toBeGreaterThanOrEqual(1);
    await expectError(await api(`/${id}`), 404, 'JOB_NOT_FOUND');
  });

  test('clean rejects a bad state or a missing age', async () => {
    await expectError(await api('/queue/clean', { method: 'POST', json: { state: 'active', olderThanMs: 0 } }), 400, 'INVALID_BODY', 'state');
    await expectError(await api('/queue/clean', { method: 'POST', json: { state: 'failed' } }), 400, 'INVALID_BODY', 'olderThanMs');
  });
});

describe('schedules', () => {
  const key = 'api-test-every-minute';

  test('upsert, read, list and delete a schedule', async () => {
    const saved = await api(`/schedules/${key}`, { method: 'PUT', json: { type: 'echo', data: { message: 'tick' }, everyMs: 60_000 } });
    expect(saved.status).toBe(200);
    const body = (await saved.json()) as any;
    expect(body).toMatchObject({ key, type: 'echo', everyMs: 60_000, data: { message: 'tick' } });
    expect(Date.parse(body.next)).toBeGreaterThan(Date.now() - 1000);

    const cron = await api(`/schedules/${key}`, { method: 'PUT', json: { type: 'echo', data: { message: 'cron' }, pattern: '0 3 * * *', tz: 'UTC' } });
    const cronBody = (await cron.json()) as any;
    expect(cronBody).toMatchObject({ pattern: '0 3 * * *', tz: 'UTC', everyMs: null, next: expect.stringMatching(/T03:00:00\.000Z$/) });
    // What the PUT answers is what was stored.
    expect(await (await api(`/schedules/${key}`)).json()).toEqual(cronBody);
    const list = (await (await api('/schedules')).json()) as any;
    expect(list.schedules.map((s: any) => s.key)).toContain(key);
    // A pattern without tz is UTC, saved as such, whatever zone the server or a worker runs in.
    const noZone = await api(`/schedules/${key}`, { method: 'PUT', json: { type: 'echo', data: { message: 'cron' }, pattern: '0 3 * * *' } });
    expect(((await noZone.json()) as any).tz).toBe('UTC');

    expect(await (await api(`/schedules/${key}`, { method: 'DELETE' })).json()).toEqual({ key, removed: true });
    await expectError(await api(`/schedules/${key}`, { method: 'DELETE' }), 404, 'SCHEDULE_NOT_FOUND');
    await expectError(await api(`/schedules/${key}`), 404, 'SCHEDULE_NOT_FOUND', 'key');
  });

  test('PUTs racing DELETEs of one key: each answers 200 (or 404 for a DELETE with nothing to remove), never a 500', async () => {
    const raced = `${key}-raced`;
    const body = { type: 'echo', data: { message: 'raced' }, everyMs: 600_000 };
    const answers: string[] = [];
    for (let round = 0; round < 40; round++) {
      const methods = ['PUT', 'DELETE', 'PUT', 'DELETE', 'PUT', 'DELETE'];
      const replies = await Promise.all(methods.map((method) => api(`/schedules/${raced}`, method === 'PUT' ? { method, json: body } : { method })));
      for (const [i, reply] of replies.entries()) {
        const text = await reply.text();
        answers.push(`${methods[i]} ${reply.status}${reply.status >= 400 ? ` ${JSON.parse(text).error.code}` : ''}`);
        // A PUT that answers 200 shows the schedule it saved.
        if (methods[i] === 'PUT' && reply.status === 200) expect(JSON.parse(text)).toMatchObject({ key: raced, everyMs: 600_000 });
      }
    }
    // Before: a PUT whose schedule a DELETE removed between its save and its read-back was a
    // 500 ("was not saved"). A PUT that saved answers with what it saved.
    expect(new Set(answers)).toEqual(new Set(answers.filter((a) => ['PUT 200', 'DELETE 200', 'DELETE 404 SCHEDULE_NOT_FOUND'].includes(a))));
    await api(`/schedules/${raced}`, { method: 'DELETE' });
  });

  test('a builtin- schedule cannot be removed here either, and stays', async () => {
    // As `queue:scheduler setup` saves one (the server does at start with ENABLE_SCHEDULED_JOBS=true).
    const manager = await QueueManager.open({ config: loadConfig(testEnv({ QUEUE_PREFIX: server.prefix })), registry: jobRegistry });
    try {
      await manager.queue.upsertJobScheduler('builtin-echo', { every: 600_000 }, { name: 'echo', data: { data: { message: 'built in' }, userId: null } });
      // Before: removed (200), to come back at the next start.
      const refused = await expectError(await api('/schedules/builtin-echo', { method: 'DELETE' }), 400, 'INVALID_OPTION', 'key');
      expect(refused.message).toContain('queue:scheduler remove');
      expect(((await (await api('/schedules/builtin-echo')).json()) as any).data).toEqual({ message: 'built in' });
    } finally {
      await manager.removeCron('builtin-echo');
      await manager.close();
    }
  });

  test('bad schedules are 400s naming the field', async () => {
    const put = (body: unknown, k = key) => api(`/schedules/${k}`, { method: 'PUT', json: body });
    await expectError(await put({ type: 'echo', data: { message: 'x' }, pattern: 'every tuesday' }), 400, 'INVALID_OPTION', 'cron');
    await expectError(await put({ type: 'echo', data: { message: 'x' } }), 400, 'INVALID_OPTION', 'schedule');
    await expectError(await put({ type: 'echo', data: { message: 'x' }, everyMs: 1000, pattern: '* * * * *' }), 400, 'INVALID_OPTION', 'schedule');
    await expectError(await put({ type: 'nope', everyMs: 1000 }), 400, 'UNKNOWN_JOB_TYPE', 'type');
    await expectError(await put({ type: 'echo', data: { nope: 1 }, everyMs: 1000 }), 400, 'INVALID_JOB_DATA');
    await expectError(await put({ type: 'echo', data: { message: 'x' }, everyMs: 0 }), 400, 'INVALID_BODY', 'everyMs');
    // Seconds typed as milliseconds: refused, not a job queued every 60 ms.
    await expectError(await put({ type: 'echo', data: { message: 'x' }, everyMs: 60 }), 400, 'INVALID_BODY', 'everyMs');
    await expectError(await put({ type: 'echo', data: { message: 'x' }, everyMs: 1e300 }), 400, 'INVALID_BODY', 'everyMs');
    await expectError(await put({ type: 'echo', data: { message: 'x' }, everyMs: 60_000, tz: 'UTC' }), 400, 'INVALID_OPTION', 'tz');
    await expectError(await put({ type: 'echo', data: { message: 'x' }, pattern: '0 3 * *' }), 400, 'INVALID_OPTION', 'cron');
    // No date is the 31st of February or April: BullMQ would save nothing, and this answered 200 with no body.
    const never = await expectError(await put({ type: 'echo', data: { message: 'x' }, pattern: '0 0 31 2,4 *', tz: 'UTC' }, 'never'), 400, 'INVALID_OPTION', 'cron');
    expect(never.message).toBe('invalid cron pattern "0 0 31 2,4 *": it never matches a date (in UTC), so it would never run');
    await expectError(await api('/schedules/never'), 404, 'SCHEDULE_NOT_FOUND');
    const hashed = await expectError(await put({ type: 'echo', data: { message: 'x' }, pattern: 'H * * * *' }), 400, 'INVALID_OPTION', 'cron');
    expect(hashed.message).toStartWith('invalid cron pattern "H * * * *": H (a hashed value) is not supported');
    await expectError(await put({ type: 'echo', data: { message: 'x' }, everyMs: 1000 }, 'builtin-echo'), 400, 'INVALID_OPTION', 'key');
    await expectError(await put({ type: 'echo', data: { message: 'x' }, everyMs: 1000 }, 'a:b'), 400, 'INVALID_PARAMS', 'key');
    // The key becomes part of each run's job id: the job-id rules for characters apply.
    const escaped = await expectError(await put({ type: 'echo', data: { message: 'x' }, everyMs: 1000 }, 'evil%1B%5B31mRED'), 400, 'INVALID_OPTION', 'key');
    expect(escaped.message).toStartWith('schedule key must not contain control characters');
    await expectError(await api('/schedules/evil%1B%5B31mRED'), 404, 'SCHEDULE_NOT_FOUND');
  });
});

describe('the rest of the HTTP surface', () => {
  test('an unknown route is a JSON 404', async () => {
    await expectError(await server.request('/api/v1/nothing-here'), 404, 'NOT_FOUND');
  });

  test('mutating routes need the token; reads do not (ADMIN_GUARD_READS=false)', async () => {
    const anonymous = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
    const denied = await anonymous('/api/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"type":"echo","data":{"message":"x"}}' });
    await expectError(denied, 401, 'UNAUTHORIZED');
    expect(denied.headers.get('www-authenticate')).toContain('Bearer');
    expect((await anonymous('/api/v1/jobs/queue/pause', { method: 'POST' })).status).toBe(401);
    expect((await anonymous('/api/v1/jobs/stats')).status).toBe(200);
    expect((await anonymous('/metrics')).status).toBe(200);
    expect((await anonymous('/admin/queues')).status).toBe(401);
  });

  test('the OpenAPI document describes the jobs API', async () => {
    const response = await server.request('/docs/json');
    expect(response.status).toBe(200);
    const doc = (await response.json()) as { paths: Record<string, any> };
    for (const path of ['/api/v1/jobs/', '/api/v1/jobs/{id}', '/api/v1/jobs/{id}/retry', '/api/v1/jobs/stats', '/api/v1/jobs/history', '/api/v1/jobs/queue/clean', '/api/v1/jobs/schedules/{key}', '/ready']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    // Each write's JSON body is described (the server's own JSON parser hid them once).
    const body = (path: string, method: string) => (doc.paths as any)[path][method].requestBody?.content?.['application/json']?.schema;
    expect(body('/api/v1/jobs/', 'post')).toMatchObject({ type: 'object', required: ['type'], properties: { type: { type: 'string' } } });
    expect(Object.keys(body('/api/v1/jobs/schedules/{key}', 'put').properties)).toContain('everyMs');
    expect(body('/api/v1/jobs/queue/clean', 'post').required).toEqual(['state', 'olderThanMs']);
    expect((await server.request('/docs')).headers.get('content-type')).toContain('text/html');
  });
});
