/** Job Schedulers: one scheduler per key however often it is set, removable, and bad patterns rejected. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { InvalidOptionError } from '@sluice/queue';
import { openTestQueue, type TestQueue } from '../helpers/queue.ts';

let queue: TestQueue;

beforeAll(async () => {
  queue = await openTestQueue('cron');
});
afterAll(async () => {
  await queue?.close();
});

test('scheduleCron twice with one key leaves one scheduler, holding the latest settings', async () => {
  await queue.manager.scheduleCron('echo', { pattern: '0 * * * *' }, { message: 'first' }, 'hourly-echo');
  const saved = await queue.manager.scheduleCron('echo', { pattern: '*/5 * * * *' }, { message: 'second' }, 'hourly-echo');

  const schedules = await queue.manager.listCrons();
  expect(schedules).toHaveLength(1);
  expect(schedules[0]).toMatchObject({ key: 'hourly-echo', type: 'echo', pattern: '*/5 * * * *', data: { message: 'second' } });
  expect(saved).toEqual(schedules[0]!);
  expect(saved.next!.getTime()).toBeGreaterThan(Date.now());
  // The scheduler keeps exactly one upcoming job, not one per upsert.
  expect((await queue.manager.getCounts()).delayed).toBe(1);
});

test('removeCron removes the scheduler', async () => {
  expect(await queue.manager.removeCron('hourly-echo')).toBe(true);
  expect(await queue.manager.listCrons()).toEqual([]);
  expect(await queue.manager.removeCron('hourly-echo')).toBe(false);
});

test('an invalid cron pattern is rejected with InvalidOptionError and nothing is scheduled', async () => {
  const error = await queue.manager.scheduleCron('echo', { pattern: 'every tuesday' }, { message: 'x' }, 'bad').catch((e) => e);
  expect(error).toBeInstanceOf(InvalidOptionError);
  expect(error.code).toBe('INVALID_OPTION');
  expect(error.field).toBe('cron');
  expect(error.message).toContain('invalid cron pattern "every tuesday"');
  expect(await queue.manager.listCrons()).toEqual([]);
});
