// setupSchedules/removeSchedules (packages/queue/src/schedules.ts), driven with a test registry
// whose definitions carry schedules, against the real test Redis.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { Type } from '@sinclair/typebox';
import { defineJob, jobRegistry, type JobRegistry } from '@sluice/jobs';
import { QueueManager, removeSchedules, setupSchedules, type ScheduleAction } from '@sluice/queue';
import { testConfig, uniquePrefix } from '../helpers/env.ts';

const Empty = Type.Object({ n: Type.Optional(Type.Integer()) }, { additionalProperties: false });
const job = (schedule?: Parameters<typeof defineJob<typeof Empty, null>>[0]['schedule']) =>
  defineJob({ description: 'test job', schema: Empty, priority: 'low', schedule, run: async () => null });

const registry = {
  daily: job({ pattern: '0 3 * * *', tz: 'UTC', data: { n: 1 } }),
  ticker: job({ everyMs: 60_000, testEveryMs: 2_000, data: {} }),
  offWhenDisabled: job({ everyMs: 60_000, data: {}, enabled: (config) => config.scheduler.enabled }),
  plain: job(),
} satisfies JobRegistry;

const config = testConfig({ QUEUE_PREFIX: uniquePrefix('cli-schedules'), ENABLE_SCHEDULED_JOBS: 'true' });
let queue: QueueManager<typeof registry>;

beforeAll(async () => {
  queue = await QueueManager.open({ config, registry });
});
afterEach(async () => {
  await removeSchedules(queue, { all: true });
});
afterAll(async () => {
  await queue.queue.obliterate({ force: true });
  await queue.close();
});

const summary = (actions: ScheduleAction[]) => Object.fromEntries(actions.map((a) => [a.key, a.action]));
const crons = async () => Object.fromEntries((await queue.listCrons()).map((s) => [s.key, s]));

describe('setupSchedules', () => {
  test('production registers each enabled schedule as builtin-<type> with its own pattern or interval', async () => {
    const result = await setupSchedules(queue, registry, config, 'production');
    expect(result.mode).toBe('production');
    expect(summary(result.actions)).toEqual({ 'builtin-daily': 'created', 'builtin-ticker': 'created', 'builtin-offWhenDisabled': 'created' });
    const saved = await crons();
    expect(Object.keys(saved).sort()).toEqual(['builtin-daily', 'builtin-offWhenDisabled', 'builtin-ticker']);
    expect(saved['builtin-daily']).toMatchObject({ type: 'daily', pattern: '0 3 * * *', tz: 'UTC', everyMs: null, data: { n: 1 } });
    expect(saved['builtin-ticker']).toMatchObject({ type: 'ticker', pattern: null, everyMs: 60_000 });
  });

  test('running it again changes nothing and keeps the next run times', async () => {
    await setupSchedules(queue, registry, config, 'production');
    const before = await crons();
    const again = await setupSchedules(queue, registry, config, 'production');
    expect(new Set(again.actions.map((a) => a.action))).toEqual(new Set(['unchanged']));
    const after = await crons();
    expect(after).toEqual(before);
  });

  test('a definition that writes its zone another way (Etc/UTC, europe/berlin) is saved in one spelling and stays unchanged', async () => {
    const spelled = {
      daily: job({ pattern: '0 3 * * *', tz: 'Etc/UTC', data: { n: 1 } }),
      berlin: job({ pattern: '0 4 * * *', tz: 'europe/berlin', data: {} }),
    } satisfies JobRegistry;
    const spelledQueue = await QueueManager.open({ config, registry: spelled, connection: queue.connection });
    try {
      expect(summary((await setupSchedules(spelledQueue, spelled, config, 'production')).actions)).toEqual({ 'builtin-daily': 'created', 'builtin-berlin': 'created' });
      const saved = await crons();
      expect([saved['builtin-daily']?.tz, saved['builtin-berlin']?.tz]).toEqual(['UTC', 'Europe/Berlin']);
      // Compared as saved: every start would otherwise have updated them again.
      expect(summary((await setupSchedules(spelledQueue, spelled, config, 'production')).actions)).toEqual({ 'builtin-daily': 'unchanged', 'builtin-berlin': 'unchanged' });
    } finally {
      await spelledQueue.close();
    }
  });

  test('a changed job option (attempts from config, a definition\'s priority) updates the schedule; then it is unchanged again', async () => {
    await setupSchedules(queue, registry, config, 'production');
    const savedOpts = async (key: string) => (await queue.queue.getJobSchedulers(0, -1, true)).find((s) => s.key === key)?.template?.opts;
    expect(await savedOpts('builtin-daily')).toMatchObject({ attempts: config.worker.attempts, priority: 1000 });

    const moreAttempts = testConfig({ QUEUE_PREFIX: config.redis.prefix, ENABLE_SCHEDULED_JOBS: 'true', WORKER_QUEUE_JOB_ATTEMPTS: '7' });
    const queueWithMore = await QueueManager.open({ config: moreAttempts, registry, connection: queue.connection });
    try {
      const result = await setupSchedules(queueWithMore, registry, moreAttempts, 'production');
      expect(summary(result.actions)).toEqual({ 'builtin-daily': 'updated', 'builtin-ticker': 'updated', 'builtin-offWhenDisabled': 'updated' });
      expect(await savedOpts('builtin-daily')).toMatchObject({ attempts: 7 });
      const again = await setupSchedules(queueWithMore, registry, moreAttempts, 'production');
      expect(new Set(again.actions.map((a) => a.action))).toEqual(new Set(['unchanged']));
    } finally {
      await queueWithMore.close();
    }

    const urgent = { ...registry, daily: defineJob({ ...registry.daily, priority: 'critical' }) } satisfies JobRegistry;
    const urgentQueue = await QueueManager.open({ config, registry: urgent, connection: queue.connection });
    try {
      expect(summary((await setupSchedules(urgentQueue, urgent, config, 'production')).actions)['builtin-daily']).toBe('updated');
      expect(await savedOpts('builtin-daily')).toMatchObject({ priority: 1, attempts: config.worker.attempts });
    } finally {
      await urgentQueue.close();
    }
  });

  test('test mode repeats every testEveryMs (default 10s), replacing production schedules in place', async () => {
    await setupSchedules(queue, registry, config, 'production');
    const result = await setupSchedules(queue, registry, config, 'test');
    expect(summary(result.actions)).toEqual({ 'builtin-daily': 'updated', 'builtin-ticker': 'updated', 'builtin-offWhenDisabled': 'updated' });
    const saved = await crons();
    expect(saved['builtin-daily']).toMatchObject({ pattern: null, everyMs: 10_000, tz: null });
    expect(saved['builtin-ticker']).toMatchObject({ everyMs: 2_000 });
    expect(Object.keys(saved)).toHaveLength(3);
  });

  test('a definition disabled by config is skipped, and removed when it was set up before', async () => {
    const disabled = testConfig({ QUEUE_PREFIX: config.redis.prefix, ENABLE_SCHEDULED_JOBS: 'false' });
    const first = await setupSchedules(queue, registry, disabled, 'production');
    expect(first.actions).toContainEqual({ action: 'skipped', key: 'builtin-offWhenDisabled', type: 'offWhenDisabled', reason: 'disabled by config' });
    expect(Object.keys(await crons())).not.toContain('builtin-offWhenDisabled');

    await setupSchedules(queue, registry, config, 'production');
    const second = await setupSchedules(queue, registry, disabled, 'production');
    expect(second.actions).toContainEqual({ action: 'removed', key: 'builtin-offWhenDisabled', type: 'offWhenDisabled', reason: 'disabled by config' });
    expect(Object.keys(await crons()).sort()).toEqual(['builtin-daily', 'builtin-ticker']);
  });

  test('cleanupAuditLog is scheduled daily only while auditing is on and retention is above 0', async () => {
    const builtins = await QueueManager.open({ config, registry: jobRegistry, connection: queue.connection });
    const cleanupAction = async (env: Record<string, string>) =>
      (await setupSchedules(builtins, jobRegistry, testConfig({ QUEUE_PREFIX: config.redis.prefix, ...env }), 'production')).actions.find(
        (a) => a.key === 'builtin-cleanupAuditLog',
      );
    try {
      // 03:00 UTC, whatever the zone of the process that sets it up or of the workers that run it.
      expect(await cleanupAction({ AUDIT_LOG_RETENTION_DAYS: '30' })).toMatchObject({ action: 'created', spec: { pattern: '0 3 * * *', tz: 'UTC' } });
      expect((await builtins.listCrons()).find((s) => s.key === 'builtin-cleanupAuditLog')).toMatchObject({ pattern: '0 3 * * *', tz: 'UTC' });
      // Auditing off: each run would fail for want of a table; a schedule left from before goes.
      expect(await cleanupAction({ AUDIT_LOG_RETENTION_DAYS: '30', AUDIT_ENABLED: 'false' })).toMatchObject({ action: 'removed', reason: 'disabled by config' });
      expect(await cleanupAction({ AUDIT_LOG_RETENTION_DAYS: '0' })).toMatchObject({ action: 'skipped', reason: 'disabled by config' });
    } finally {
      await builtins.close();
    }
  });

  test('a builtin- schedule no definition asks for is removed; user schedules are left alone', async () => {
    await queue.scheduleCron('plain', { everyMs: 5_000 }, {}, 'builtin-plain');
    await queue.scheduleCron('plain', { everyMs: 5_000 }, {}, 'my-own');
    const result = await setupSchedules(queue, registry, config, 'production');
    expect(result.actions).toContainEqual({ action: 'removed', key: 'builtin-plain', type: 'plain', reason: 'no longer defined' });
    expect(Object.keys(await crons()).sort()).toEqual(['builtin-daily', 'builtin-offWhenDisabled', 'builtin-ticker', 'my-own']);
  });

  // A fault in a definition, not in input: the error names the definition, and nothing is written.
  test.each([
    ['a pattern no cron reads', job({ pattern: 'every day', data: {} }), 'invalid cron pattern "every day"'],
    ['data its own schema refuses', job({ everyMs: 60_000, data: { n: 'one' as never } }), 'invalid data for "bad": /n Expected integer'],
    ['an interval of 0 ms', job({ everyMs: 0, data: {} }), 'every must be a whole number of milliseconds from 1'],
    ['a zone with an interval', job({ everyMs: 60_000, tz: 'Europe/Paris', data: {} }), 'tz only applies to a cron pattern'],
  ])('a schedule with %s is rejected before anything is written, naming the definition', async (_case, bad, why) => {
    const broken = { ...registry, bad } satisfies JobRegistry;
    const brokenQueue = await QueueManager.open({ config, registry: broken, connection: queue.connection });
    try {
      const error = await setupSchedules(brokenQueue, broken, config, 'production').catch((e) => e);
      expect(error.name).toBe('InvalidScheduleDefinitionError');
      expect(error.message).toStartWith(`the schedule in the "bad" job definition is invalid (${why}`);
      expect(await queue.listCrons()).toEqual([]);
    } finally {
      await brokenQueue.close();
    }
  });
});

describe('removeSchedules', () => {
  test('removes the builtin- schedules only, or every schedule with all', async () => {
    await setupSchedules(queue, registry, config, 'test');
    await queue.scheduleCron('plain', { everyMs: 5_000 }, {}, 'my-own');
    expect((await removeSchedules(queue)).sort()).toEqual(['builtin-daily', 'builtin-offWhenDisabled', 'builtin-ticker']);
    expect(Object.keys(await crons())).toEqual(['my-own']);
    expect(await removeSchedules(queue, { all: true })).toEqual(['my-own']);
    expect(await queue.listCrons()).toEqual([]);
  });
});
