/** Bull Board's "Add job" and "Duplicate", through the endpoints its page calls: validated submits that run, refusals it can show. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { loadConfig } from '@sluice/config';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager } from '@sluice/queue';
import { testEnv } from '../helpers/env.ts';
import { deletePrefix, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(60_000);

const USER = 'admin';
const PASSWORD = 'board-add-pass-41c2';
let server: ServerProcess;

beforeAll(async () => {
  server = await spawnServer({
    label: 'board-add',
    authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
    env: { WORKER_COUNT: '1', AUDIT_ENABLED: 'false', ADMIN_USER: USER, ADMIN_PASSWORD: PASSWORD },
  });
});

afterAll(async () => {
  if (server) expect(await server.stop()).toBe(0);
  await deletePrefix(server?.prefix ?? 'none');
});

/** What the board's Add job / Duplicate dialog posts: `{ name, data, options }`. */
async function boardAdd(body: unknown) {
  const response = await server.request('/admin/queues/api/queues/jobs/add', { method: 'POST', json: body });
  return { status: response.status, body: (await response.json()) as any };
}

const jobTotal = async () => {
  const { queue } = (await (await server.request('/api/v1/jobs/health')).json()) as { queue: Record<string, number> };
  return ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'].reduce((sum, state) => sum + (queue[state] ?? 0), 0);
};

const finished = (id: string) =>
  waitUntil(`job ${id} to finish`, async () => {
    const job = (await (await server.request(`/api/v1/jobs/${id}`)).json()) as any;
    return job.state === 'completed' || job.state === 'failed' ? job : null;
  });

describe('Add job', () => {
  test('the envelope the dialog starts from is queued through the registry and the job runs', async () => {
    const schema = (await (await server.request('/admin/queues/api/queues/jobs/job-data-schema')).json()) as any;
    expect(schema.examples[0]).toEqual({ data: { message: 'hello from the board' } });

    const added = await boardAdd({ name: 'echo', data: { data: { message: 'from board' } }, options: {} });
    expect(added.status).toBe(200);
    const job = await finished(added.body.job.id);
    expect({ state: job.state, data: job.data, result: job.result?.message }).toEqual({ state: 'completed', data: { message: 'from board' }, result: 'from board' });
  });

  test('a bare payload, an unknown type, invalid data or an option the board cannot set is a 400 the board shows, and nothing is queued', async () => {
    const before = await jobTotal();
    const cases = [
      [{ name: 'echo', data: { message: 'from board' } }, 'INVALID_BODY', 'data'],
      [{ name: 'no-such-type', data: { data: {} }, options: {} }, 'UNKNOWN_JOB_TYPE', 'type'],
      // The dialog's job name left empty.
      [{ name: '__default__', data: { data: { message: 'x' } }, options: {} }, 'UNKNOWN_JOB_TYPE', 'type'],
      [{ name: 'echo', data: { data: { message: 5 } }, options: {} }, 'INVALID_JOB_DATA', 'data/message'],
      [{ name: 'echo', data: { data: { message: 'x' } }, options: { lifo: true } }, 'INVALID_BODY', 'options/lifo'],
      [{ name: 'echo', data: { data: { message: 'x' } }, options: { attempts: 0 } }, 'INVALID_OPTION', 'attempts'],
    ] as const;
    for (const [body, code, field] of cases) {
      const refused = await boardAdd(body);
      expect({ body, status: refused.status, code: refused.body.error.code, field: refused.body.error.field }).toEqual({ body, status: 400, code, field });
      // Bull Board's toast: error.key as the title, message beneath.
      expect(refused.body.error.key).toBe(code);
      expect(refused.body.message).toBe(refused.body.error.message);
    }
    expect(await jobTotal()).toBe(before);
    // No job ran under a made-up type, so none labels the job metrics.
    expect(await (await server.request('/metrics')).text()).not.toContain('no-such-type');
  });
});

describe('Duplicate', () => {
  test('a job with a custom id is copied under a new id, and the copy runs', async () => {
    const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'original' }, jobId: 'board-original-1', priority: 'high', attempts: 2 } });
    expect(submitted.status).toBe(201);
    await finished('board-original-1');
    // What the dialog is filled with: the job as the board's API shows it.
    const { job } = (await (await server.request('/admin/queues/api/queues/jobs/board-original-1')).json()) as any;
    expect(job.opts.jobId).toBe('board-original-1');

    const copy = await boardAdd({ name: job.name, data: job.data, options: job.opts });
    expect(copy.status).toBe(200);
    expect(copy.body.job.id).not.toBe('board-original-1');
    const ran = await finished(copy.body.job.id);
    expect({ state: ran.state, data: ran.data, attempts: ran.maxAttempts }).toEqual({ state: 'completed', data: { message: 'original' }, attempts: 2 });
    // The original is untouched.
    expect(((await (await server.request('/api/v1/jobs/board-original-1')).json()) as any).state).toBe('completed');
  });
});

describe('Update data, and the queue\'s own keys', () => {
  test('edited data is held to the envelope and the type\'s schema; a valid edit is stored and runs', async () => {
    const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'before the edit' }, jobId: 'board-edit-1', delay: 60_000 } });
    expect(submitted.status).toBe(201);
    const edit = async (jobData: unknown) => {
      const response = await server.request('/admin/queues/api/queues/jobs/board-edit-1/update-data', { method: 'PATCH', json: { jobData } });
      return { status: response.status, body: (await response.json()) as any };
    };
    // Before: each was stored as it was, and the job would have failed for good when it ran.
    for (const [jobData, code] of [
      [{ message: 'a bare payload' }, 'INVALID_BODY'],
      [{ data: { message: 42 } }, 'INVALID_JOB_DATA'],
    ] as const) {
      const refused = await edit(jobData);
      expect({ status: refused.status, code: refused.body.error.code }).toEqual({ status: 400, code });
    }
    expect(((await (await server.request('/api/v1/jobs/board-edit-1')).json()) as any).data).toEqual({ message: 'before the edit' });

    // The owner stays as it was: a userId in the edit is not taken.
    expect((await edit({ data: { message: 'after the edit' }, userId: 'mallory' })).status).toBe(200);
    expect(((await (await server.request('/api/v1/jobs/board-edit-1')).json()) as any).userId).toBeNull();
    await server.request('/admin/queues/api/queues/jobs/board-edit-1/promote', { method: 'PUT' });
    const ran = await finished('board-edit-1');
    expect({ state: ran.state, result: ran.result?.message }).toEqual({ state: 'completed', result: 'after the edit' });
  });

  test('the board\'s per-job routes do not take the queue\'s own keys for jobs', async () => {
    await server.request('/api/v1/jobs/queue/pause', { method: 'POST' });
    try {
      for (const id of ['meta', 'events', 'id']) {
        expect((await server.request(`/admin/queues/api/queues/jobs/${id}`)).status).toBe(404);
        // Before: `meta` was removed as a job, and with it the queue's paused flag.
        expect((await server.request(`/admin/queues/api/queues/jobs/${id}/clean`, { method: 'PUT' })).status).toBe(404);
      }
      expect(((await (await server.request('/api/v1/jobs/stats')).json()) as any).paused).toBe(true);
    } finally {
      await server.request('/api/v1/jobs/queue/resume', { method: 'POST' });
    }
  });
});

describe('the board on schedules, and its limits', () => {
  test('a schedule edit is held to the API\'s rules, keeps its zone, and a built-in schedule cannot be edited or removed', async () => {
    const key = 'board-edit-schedule';
    expect((await server.request(`/api/v1/jobs/schedules/${key}`, { method: 'PUT', json: { type: 'echo', data: { message: 'tick' }, pattern: '0 6 * * *', tz: 'Asia/Tokyo' } })).status).toBe(200);
    // As `queue:scheduler setup` saves a built-in schedule (the server does at start with ENABLE_SCHEDULED_JOBS=true).
    const manager = await QueueManager.open({ config: loadConfig(testEnv({ QUEUE_PREFIX: server.prefix })), registry: jobRegistry });
    const editSchedule = async (id: string, body: unknown) => (await server.request(`/admin/queues/api/queues/jobs/job-schedulers/${id}`, { method: 'PATCH', json: body })).status;
    try {
      // Before: each was saved (a random minute with H, every second for retention).
      expect(await editSchedule(key, { pattern: 'H * * * *' })).toBe(400);
      expect(await editSchedule(key, { pattern: '0 0 31 2 *' })).toBe(400);
      expect(await editSchedule(key, { every: 0 })).toBe(400);
      expect(await editSchedule(key, { every: 999 })).toBe(400);
      expect(await editSchedule('builtin-cleanupAuditLog', { pattern: '* * * * * *' })).toBe(400);
      // Nor removed (before: 204, and the next start set it back).
      await manager.queue.upsertJobScheduler('builtin-echo', { every: 600_000 }, { name: 'echo', data: { data: { message: 'built in' }, userId: null } });
      const removal = await server.request('/admin/queues/api/queues/jobs/job-schedulers/builtin-echo/remove', { method: 'PUT' });
      expect({ status: removal.status, message: ((await removal.json()) as any).message }).toEqual({ status: 400, message: expect.stringContaining('is built in') });
      expect((await server.request('/api/v1/jobs/schedules/builtin-echo')).status).toBe(200);
      expect(((await (await server.request(`/api/v1/jobs/schedules/${key}`)).json()) as any)).toMatchObject({ pattern: '0 6 * * *', tz: 'Asia/Tokyo' });
      // A valid edit without a zone keeps the schedule's own.
      expect(await editSchedule(key, { pattern: '30 7 * * *' })).toBe(204);
      expect(((await (await server.request(`/api/v1/jobs/schedules/${key}`)).json()) as any)).toMatchObject({ pattern: '30 7 * * *', tz: 'Asia/Tokyo' });
    } finally {
      await server.request(`/api/v1/jobs/schedules/${key}`, { method: 'DELETE' });
      await manager.removeCron('builtin-echo');
      await manager.close();
    }
  });

  test('Duplicate of a schedule\'s run queues a one-off copy; attempts past 1000 are refused as in the API', async () => {
    const key = 'board-dup-run';
    const saved = (await (await server.request(`/api/v1/jobs/schedules/${key}`, { method: 'PUT', json: { type: 'echo', data: { message: 'scheduled' }, everyMs: 600_000 } })).json()) as any;
    try {
      const runId = `repeat:${key}:${Date.parse(saved.next)}`;
      const { job } = (await (await server.request(`/admin/queues/api/queues/jobs/${encodeURIComponent(runId)}`)).json()) as any;
      expect(job.opts.repeat).toBeDefined();
      // Before: 400, "not repeat, timestamp".
      const copy = await boardAdd({ name: job.name, data: job.data, options: { ...job.opts, delay: 0 } });
      expect(copy.status).toBe(200);
      const ran = await finished(copy.body.job.id);
      expect({ state: ran.state, result: ran.result?.message, schedulerKey: ran.schedulerKey }).toEqual({ state: 'completed', result: 'scheduled', schedulerKey: null });
      // Before: 200, with attempts 1e300 stored.
      const refused = await boardAdd({ name: 'echo', data: { data: { message: 'x' } }, options: { attempts: 1e300 } });
      expect({ status: refused.status, field: refused.body.error.field }).toEqual({ status: 400, field: 'attempts' });
    } finally {
      await server.request(`/api/v1/jobs/schedules/${key}`, { method: 'DELETE' });
    }
  });
});
