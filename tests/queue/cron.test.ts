/** Job Schedulers: one scheduler per key however often it is set, removable, and bad patterns rejected. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { InvalidOptionError, MAX_DELAY_MS } from '@sluice/queue';
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
  const before = Date.now();
  const saved = await queue.manager.scheduleCron('echo', { pattern: '*/5 * * * *' }, { message: 'second' }, 'hourly-echo');

  const schedules = await queue.manager.listCrons();
  expect(schedules).toHaveLength(1);
  expect(schedules[0]).toMatchObject({ key: 'hourly-echo', type: 'echo', pattern: '*/5 * * * *', data: { message: 'second' } });
  expect(saved).toEqual(schedules[0]!);
  // The first five-minute mark after the upsert (compared with the time before it, so a mark
  // passing during the call cannot fail this).
  expect(saved.next!.getTime() % 300_000).toBe(0);
  expect(saved.next!.getTime()).toBeGreaterThan(before);
  expect(saved.next!.getTime()).toBeLessThanOrEqual(before + 300_000);
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

test('a pattern with a field missing or one too many is refused, not silently completed by the parser', async () => {
  for (const [pattern, count] of [['0 3 * *', 4], ['5', 1], ['0 0 3 * * * *', 7]] as const) {
    const error = await queue.manager.scheduleCron('echo', { pattern }, { message: 'x' }, 'fields').catch((e) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.field).toBe('cron');
    expect(error.message).toBe(`invalid cron pattern "${pattern}": expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, got ${count}`);
  }
  // Five fields, six (seconds first) and the parser's macros still work.
  for (const pattern of ['0 3 * * *', '30 0 3 * * *', '@daily']) await queue.manager.scheduleCron('echo', { pattern }, { message: pattern }, `ok-${pattern.length}`);
  expect((await queue.manager.listCrons()).map((s) => s.pattern).sort()).toEqual(['0 3 * * *', '30 0 3 * * *', '@daily']);
  for (const key of ['ok-9', 'ok-12', 'ok-6']) expect(await queue.manager.removeCron(key)).toBe(true);
});

test('an interval under a second or over 365 days, or a time zone with an interval, is refused and nothing is scheduled', async () => {
  const tooLong = await queue.manager.scheduleCron('echo', { everyMs: MAX_DELAY_MS + 1 }, { message: 'x' }, 'long').catch((e) => e);
  expect(tooLong).toBeInstanceOf(InvalidOptionError);
  expect(tooLong.message).toBe(`every must be a whole number of milliseconds from 1000 (1 s) to 31536000000 (365 days), got "${MAX_DELAY_MS + 1}"`);
  const tooShort = await queue.manager.scheduleCron('echo', { everyMs: 999 }, { message: 'x' }, 'short').catch((e) => e);
  expect(tooShort.message).toBe('every must be a whole number of milliseconds from 1000 (1 s) to 31536000000 (365 days), got "999"');
  const zoned = await queue.manager.scheduleCron('echo', { everyMs: 60_000, tz: 'UTC' }, { message: 'x' }, 'zoned').catch((e) => e);
  expect(zoned).toBeInstanceOf(InvalidOptionError);
  expect(zoned.field).toBe('tz');
  expect(await queue.manager.listCrons()).toEqual([]);
});

test('a pattern that never matches a date is refused, and an existing schedule keeps its pattern', async () => {
  await queue.manager.scheduleCron('echo', { pattern: '0 3 * * *', tz: 'UTC' }, { message: 'kept' }, 'never');
  const before = await queue.manager.listCrons();
  // The 31st of February or April: the parser takes it, but there is no next run, and BullMQ
  // would then save nothing and say nothing.
  for (const tz of ['UTC', undefined]) {
    const error = await queue.manager.scheduleCron('echo', { pattern: '0 0 31 2,4 *', tz }, { message: 'x' }, 'never').catch((e) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.field).toBe('cron');
    expect(error.message).toBe(`invalid cron pattern "0 0 31 2,4 *": it never matches a date (in ${tz ?? 'local time'}), so it would never run`);
  }
  expect(await queue.manager.listCrons()).toEqual(before);
  expect(await queue.manager.removeCron('never')).toBe(true);
});

test('a pattern that matches only on 29 February is accepted, its first run up to years away', async () => {
  const saved = await queue.manager.scheduleCron('echo', { pattern: '0 12 29 2 *', tz: 'UTC' }, { message: 'leap' }, 'leap-day');
  expect(saved.next!.getUTCMonth()).toBe(1);
  expect(saved.next!.getUTCDate()).toBe(29);
  expect(await queue.manager.removeCron('leap-day')).toBe(true);
});

test('H (a hashed value) is refused: BullMQ gives it no seed, so every run would land on a new random minute', async () => {
  for (const pattern of ['H * * * *', '0 H * * *', 'H/5 * * * *', 'H(0-29) * * * *', '0 0 1,H * *']) {
    const error = await queue.manager.scheduleCron('echo', { pattern }, { message: 'x' }, 'hashed').catch((e) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.field).toBe('cron');
    expect(error.message).toBe(
      `invalid cron pattern "${pattern}": H (a hashed value) is not supported: BullMQ gives it no seed, so each run would pick a new random time; write the value itself, e.g. 17 instead of H`,
    );
  }
  expect(await queue.manager.listCrons()).toEqual([]);
  // A day name with an H in it is still a day name.
  await queue.manager.scheduleCron('echo', { pattern: '0 9 * * THU', tz: 'UTC' }, { message: 'thursday' }, 'thursday');
  expect(await queue.manager.removeCron('thursday')).toBe(true);
});

test('a schedule key follows the job-id character rules: no control characters, no half surrogate pair', async () => {
  for (const key of ['evil\u001b[31mRED', 'two\nlines', 'nul\u0000', 'lone\ud800']) {
    const error = await queue.manager.scheduleCron('echo', { everyMs: 60_000 }, { message: 'x' }, key).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.field).toBe('key');
    expect(error.message).toStartWith('schedule key must ');
    expect(error.message).not.toMatch(/[\u0000-\u001f]/);
  }
  expect(await queue.manager.listCrons()).toEqual([]);
});
