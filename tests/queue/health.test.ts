/** QueueManager health: counts, Redis status and latency, last processed time; a dead Redis fails fast. */
import { expect, test } from 'bun:test';
import { checkRedis, connectRedis, QueueManager, RedisUnavailableError } from '@sluice/queue';
import { jobRegistry } from '@sluice/jobs';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { closedPort } from '../helpers/ports.ts';
import { useSupervisedQueue } from '../helpers/supervised-queue.ts';
import { within } from '../helpers/wait.ts';

const fixture = useSupervisedQueue('health');

test('getHealth reports counts per state, Redis up with its latency, and when a job last finished', async () => {
  const { queue } = fixture;
  const before = await queue.manager.getHealth();
  expect(before.redis.status).toBe('up');
  expect(before.lastProcessedAt).toBeNull();

  const { id } = await queue.manager.submit('echo', { message: 'counted' });
  const failing = await queue.manager.submit('echo', { message: 'x', failPermanently: true });
  const events = await queue.events();
  await (await queue.manager.queue.getJob(id))!.waitUntilFinished(events, 20_000);
  await (await queue.manager.queue.getJob(failing.id))!.waitUntilFinished(events, 20_000).catch(() => {});
  await queue.manager.submit('echo', { message: 'later' }, { delayMs: 60_000 });

  const health = await queue.manager.getHealth();
  expect(health.counts).toEqual({ waiting: 0, prioritized: 0, active: 0, delayed: 1, completed: 1, failed: 1, paused: 0 });
  expect(health.paused).toBe(false);
  expect(health.redis.status).toBe('up');
  expect(health.redis.latencyMs).toBeNumber();
  expect(health.redis.latencyMs!).toBeGreaterThanOrEqual(0);
  const lastFinished = Math.max(...(await Promise.all([id, failing.id].map((j) => queue.manager.queue.getJob(j)))).map((j) => j!.finishedOn!));
  expect(health.lastProcessedAt?.getTime()).toBe(lastFinished);
}, 30_000);

test('a paused queue reports its held jobs as paused', async () => {
  const { queue } = fixture;
  await queue.manager.pause();
  await queue.manager.submit('echo', { message: 'held' });
  const health = await queue.manager.getHealth();
  await queue.manager.resume();
  expect(health.paused).toBe(true);
  expect(health.counts.paused).toBe(1);
}, 30_000);

test('opening a producer against a closed port rejects quickly with RedisUnavailableError', async () => {
  const port = await closedPort();
  const config = testConfig({ REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: uniquePrefix('health-down') });

  const error = await within('QueueManager.open to reject', QueueManager.open({ config, registry: jobRegistry }).catch((e) => e), 4000);

  expect(error).toBeInstanceOf(RedisUnavailableError);
  expect(error.code).toBe('REDIS_UNAVAILABLE');
  expect(error.message).toContain(`Redis at redis://127.0.0.1:${port}`);
  expect(error.message).toContain('not reachable');
}, 30_000);

test('a connection whose socket just closed, while ioredis still says ready, is reported as not connected, not in ioredis words', async () => {
  const redis = await connectRedis(testConfig().redis.url, { role: 'producer' });
  try {
    // What a Redis going away looks like in the moment before ioredis notices the close.
    (redis as unknown as { stream: { destroy(): void } }).stream.destroy();
    expect(redis.status).toBe('ready');
    const health = await checkRedis(redis);
    expect(health).toEqual({ status: 'down', latencyMs: null, error: expect.stringMatching(/^not connected to Redis at 127\.0\.0\.1:\d+: /) });
    expect(health.error).not.toContain('enableOfflineQueue');
  } finally {
    redis.disconnect();
  }
});
