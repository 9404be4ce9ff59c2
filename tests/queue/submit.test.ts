import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { jobRegistry } from '@sluice/jobs';
import { InvalidJobDataError, QueueManager, UnknownJobTypeError } from '@sluice/queue';
import { testConfig, uniquePrefix } from '../helpers/env.ts';

const config = testConfig({ QUEUE_PREFIX: uniquePrefix('submit') });
let queue: QueueManager<typeof jobRegistry>;

beforeAll(async () => {
  queue = await QueueManager.open({ config, registry: jobRegistry });
});
afterAll(async () => {
  await queue.queue.obliterate({ force: true });
  await queue.close();
});

describe('QueueManager.submit validation', () => {
  test('an unknown type is rejected, naming the type, and nothing is enqueued', async () => {
    const error = await queue.submit('nope', { message: 'x' }).catch((e) => e);
    expect(error).toBeInstanceOf(UnknownJobTypeError);
    expect(error.message).toContain('unknown job type "nope"');
    expect(error.field).toBe('type');
    expect(await queue.queue.count()).toBe(0);
  });

  test('an invalid payload is rejected, naming the field, and nothing is enqueued', async () => {
    const error = await queue.submit('echo', { message: 'x', sleepMs: -5 } as never).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidJobDataError);
    expect(error.field).toBe('data/sleepMs');
    expect(await queue.queue.count()).toBe(0);
  });

  test('one bad item fails the whole bulk submit', async () => {
    const error = await queue
      .submitBulk([{ type: 'echo', data: { message: 'ok' } }, { type: 'echo', data: { nope: true } }])
      .catch((e) => e);
    expect(error).toBeInstanceOf(InvalidJobDataError);
    expect(await queue.queue.count()).toBe(0);
  });

  test('a valid job carries the definition priority and attempts', async () => {
    const { id } = await queue.submit('echo', { message: 'hello' }, { attempts: 4 });
    const job = await queue.queue.getJob(id);
    expect(job?.opts.priority).toBe(100);
    expect(job?.opts.attempts).toBe(4);
    expect(job?.data).toEqual({ data: { message: 'hello' }, userId: null });
  });
});
