import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { jobRegistry } from '@sluice/jobs';
import { InvalidJobDataError, InvalidOptionError, JobExistsError, MAX_DELAY_MS, QueueManager, UnknownJobTypeError } from '@sluice/queue';
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

/** A type chosen at run time, which the compiler sees only as one of the two. */
const eitherType = (type: 'echo' | 'cleanupAuditLog'): 'echo' | 'cleanupAuditLog' => type;

describe('QueueManager.submit validation', () => {
  test('an unknown type is rejected, naming the type, and nothing is enqueued', async () => {
    const error = await queue.submitByName('nope', { message: 'x' }).catch((e) => e);
    expect(error).toBeInstanceOf(UnknownJobTypeError);
    expect(error.message).toContain('unknown job type "nope"');
    expect(error.field).toBe('type');
    expect(await queue.queue.count()).toBe(0);
  });

  // `bun run test` typechecks first: each @ts-expect-error fails it if the line compiles.
  test('submit with a misspelt type or field fails to compile, and at run time', async () => {
    const errors = await Promise.all([
      // @ts-expect-error: no such type in the registry
      queue.submit('ehco', { message: 'x' }).catch((e) => e),
      // @ts-expect-error: a field echo's schema lacks, and its required message missing
      queue.submit('echo', { mesage: 'x' }).catch((e) => e),
      // @ts-expect-error: message is a string
      queue.submit('echo', { message: 42 }).catch((e) => e),
      // @ts-expect-error: the item's payload is checked against its own type
      queue.submitBulk([{ type: 'echo', data: { message: 'ok' } }, { type: 'cleanupAuditLog', data: { message: 'ok' } }]).catch((e) => e),
      // @ts-expect-error: a type the compiler knows only as a union takes only a payload every member's schema types accept
      queue.submit(eitherType('echo'), { retentionDays: 7 }).catch((e) => e),
    ]);
    expect(errors.map((error) => error.constructor)).toEqual([UnknownJobTypeError, InvalidJobDataError, InvalidJobDataError, InvalidJobDataError, InvalidJobDataError]);
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
      .submitBulk([{ type: 'echo', data: { message: 'ok' } }, { type: 'echo', data: { nope: true } as never }])
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

  test('bad options are rejected, naming the option, and nothing is enqueued', async () => {
    const before = await queue.queue.count();
    const cases = [
      [{ priority: 'urgent' as never }, 'priority'],
      // Number() would read these as 16 and 1000.
      [{ priority: '0x10' as never }, 'priority'],
      [{ priority: '1e3' as never }, 'priority'],
      // One past BullMQ's largest (2^21 - 1): BullMQ's own error would reach the caller.
      [{ priority: 2_097_152 }, 'priority'],
      [{ delayMs: MAX_DELAY_MS + 1 }, 'delay'],
      [{ delayMs: -1 }, 'delay'],
      [{ attempts: 0 }, 'attempts'],
      [{ jobId: '42' }, 'jobId'],
      // Half a surrogate pair: stored as a replacement character, the id would not find its own job.
      [{ jobId: 'lone\ud800y' }, 'jobId'],
      // Postgres cannot store U+0000: the job would run with no audit history.
      [{ jobId: 'nul\u0000id' }, 'jobId'],
      // A newline or a terminal escape would break (or rewrite) every listing of the id.
      [{ jobId: 'line\nbreak' }, 'jobId'],
      [{ jobId: 'esc\u001b[2Jclear' }, 'jobId'],
      // user_id is text: a number would reach the audit writer and be parked.
      [{ userId: 123 as never }, 'userId'],
      [{ userId: '' }, 'userId'],
    ] as const;
    for (const [options, field] of cases) {
      const error = await queue.submit('echo', { message: 'x' }, options).catch((e) => e);
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect(error.field).toBe(field);
    }
    expect(await queue.queue.count()).toBe(before);
  });

  test('a payload nested deeper than 1000 levels is refused, naming the limit, and nothing is enqueued', async () => {
    const before = await queue.queue.count();
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { x: deep };
    const error = await queue.submit('echo', { message: 'x', deep } as never).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidJobDataError);
    expect(error.message).toContain('deeper than 1000 levels');
    expect(await queue.queue.count()).toBe(before);
  });

  test('submitBulk refuses custom job ids, and queues nothing', async () => {
    const before = await queue.queue.count();
    const error = await queue
      .submitBulk([{ type: 'echo', data: { message: 'a' } }, { type: 'echo', data: { message: 'b' }, options: { jobId: 'bulk-1' } }])
      .catch((e) => e);
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error.field).toBe('jobId');
    expect(await queue.queue.count()).toBe(before);
  });

  test('a jobId deduplicates: a second submit gets JobExistsError and the first job is kept', async () => {
    const first = await queue.submit('echo', { message: 'once' }, { jobId: 'dedup-me' });
    expect(first.id).toBe('dedup-me');
    const second = await queue.submit('echo', { message: 'twice' }, { jobId: 'dedup-me' }).catch((e) => e);
    expect(second).toBeInstanceOf(JobExistsError);
    expect(second.message).toMatch(/^a job with id "dedup-me" already exists \((waiting|prioritized)\); nothing queued$/);
    const job = await queue.queue.getJob('dedup-me');
    expect(job?.data.data).toEqual({ message: 'once' });
  });

  test('priority levels map to BullMQ numbers where higher levels run first', async () => {
    const ids = await queue.submitBulk(
      (['critical', 'high', 'normal', 'low'] as const).map((priority) => ({ type: 'echo', data: { message: priority }, options: { priority } })),
    );
    const numbers = await Promise.all(ids.map(async ({ id }) => (await queue.queue.getJob(id))!.opts.priority));
    expect(numbers).toEqual([1, 10, 100, 1000]);
  });
});
