import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Redis } from 'ioredis';
import { loadConfig } from '@sluice/config';
import { jobRegistry } from '@sluice/jobs';
import { connectRedis, QueueManager } from '@sluice/queue';
import { testEnv, uniquePrefix } from '../helpers/env.ts';
import { closedPort, deleteKeysUnder, keysUnder, runCli } from './cli.ts';

let redis: Redis;
const prefixes: string[] = [];

/** A fresh prefix per test: "nothing enqueued" then means "no key under it at all". */
function fresh() {
  const prefix = uniquePrefix('cli-add');
  prefixes.push(prefix);
  return { prefix, env: testEnv({ QUEUE_PREFIX: prefix }) };
}

beforeAll(async () => {
  redis = await connectRedis(process.env.REDIS_URL!, { role: 'producer' });
});
afterAll(async () => {
  for (const prefix of prefixes) await deleteKeysUnder(redis, prefix);
  await redis.quit();
});

async function monitorJson(env: Record<string, string>) {
  const result = await runCli(['monitor', '--json'], env);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

describe('queue:add', () => {
  test('prints the job id, and monitor --json counts the job', async () => {
    const { env } = fresh();
    const added = await runCli(['add', 'echo', '--data', '{"message":"hi"}'], env);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const id = added.stdout.match(/^queued echo job (\S+) \(priority normal\)\n$/)?.[1];
    expect(id).toBeDefined();

    const snapshot = await monitorJson(env);
    expect(Object.keys(snapshot.counts).sort()).toEqual(['active', 'completed', 'delayed', 'failed', 'paused', 'prioritized', 'waiting']);
    // Every Sluice job carries a priority, so BullMQ keeps it in the prioritized set.
    expect(snapshot.counts.prioritized + snapshot.counts.waiting).toBe(1);
    expect(snapshot.jobs).toEqual([expect.objectContaining({ id, type: 'echo', priority: 'normal', runAt: null })]);
    expect(snapshot.schedules).toEqual([]);
    expect(snapshot.paused).toBe(false);
    expect(snapshot.redis.status).toBe('up');
  });

  test('--priority, --delay, --attempts, --remove-on-complete and --job-id reach the job', async () => {
    const { env } = fresh();
    const args = ['add', 'echo', '--data', '{"message":"later"}', '--priority', 'high', '--delay', '5000', '--attempts', '4', '--remove-on-complete', '--job-id', 'nightly-1'];
    const added = await runCli(args, env);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^queued echo job nightly-1 \(priority high, runs at .+\)\n$/);

    const [job] = (await monitorJson(env)).jobs;
    expect(job).toMatchObject({ state: 'delayed', id: 'nightly-1', priority: 'high', priorityNumber: 10 });
    expect(Date.parse(job.runAt) - Date.parse(job.addedAt)).toBe(5000);
    const stored = await redis.hgetall(`${env.QUEUE_PREFIX}:jobs:nightly-1`);
    expect(JSON.parse(stored.opts!)).toMatchObject({ attempts: 4, removeOnComplete: true, priority: 10, delay: 5000 });
  });

  test('a numeric --priority and the seed spellings --repeat and --removeOnComplete are accepted', async () => {
    const { env } = fresh();
    const added = await runCli(['add', 'echo', '--data', '{"message":"x"}', '--priority', '42', '--removeOnComplete'], env);
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('(priority 42)');
    const scheduled = await runCli(['add', 'echo', '--data', '{"message":"x"}', '--repeat', '60000'], env);
    expect(scheduled.code).toBe(0);
    expect(scheduled.stdout).toStartWith('created schedule "echo-every-60000": echo every 1m, next run ');
  });

  test('--priority 2097151, the largest BullMQ takes, queues the job', async () => {
    const { env } = fresh();
    const added = await runCli(['add', 'echo', '--data', '{"message":"last"}', '--priority', '2097151'], env);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('(priority 2097151)');
  });

  test('the same --job-id twice queues one job', async () => {
    const { env } = fresh();
    const args = ['add', 'echo', '--data', '{"message":"once"}', '--job-id', 'only-once'];
    expect((await runCli(args, env)).code).toBe(0);
    const again = await runCli(args, env);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('job "only-once" already exists (prioritized); nothing queued\n');
    const { counts } = await monitorJson(env);
    expect(counts.prioritized + counts.waiting).toBe(1);
  });
});

describe('queue:add --every / --cron', () => {
  test('--every twice with one key leaves one scheduler', async () => {
    const { env } = fresh();
    const args = ['add', 'echo', '--data', '{"message":"tick"}', '--every', '60000'];
    const first = await runCli(args, env);
    expect(first.stdout).toStartWith('created schedule "echo-every-60000"');
    const second = await runCli(args, env);
    expect(second.code).toBe(0);
    expect(second.stdout).toStartWith('updated schedule "echo-every-60000"');
    const { schedules } = await monitorJson(env);
    expect(schedules).toEqual([expect.objectContaining({ key: 'echo-every-60000', type: 'echo', everyMs: 60000, pattern: null })]);
  });

  test('--cron with --key replaces an --every schedule of the same key', async () => {
    const { env } = fresh();
    await runCli(['add', 'echo', '--data', '{"message":"a"}', '--every', '30000', '--key', 'report'], env);
    const cron = await runCli(['add', 'echo', '--data', '{"message":"b"}', '--cron', '0 3 * * *', '--tz', 'UTC', '--key', 'report'], env);
    expect(cron.stderr).toBe('');
    expect(cron.stdout).toStartWith('updated schedule "report": echo cron 0 3 * * * (UTC), next run ');
    const { schedules } = await monitorJson(env);
    expect(schedules).toEqual([expect.objectContaining({ key: 'report', pattern: '0 3 * * *', tz: 'UTC', everyMs: null })]);
  });

  test('without --key a cron schedule gets a key derived from its pattern', async () => {
    const { env } = fresh();
    const plain = await runCli(['add', 'echo', '--data', '{"message":"n"}', '--cron', '0 3 * * *'], env);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toStartWith('created schedule "echo-cron-0-3-x-x-x": echo cron 0 3 * * *');
    const stepped = await runCli(['add', 'echo', '--data', '{"message":"n"}', '--cron', '*/5 * * * *'], env);
    expect(stepped.stdout).toMatch(/^created schedule "echo-cron-x-5-x-x-x-x-[0-9a-f]{8}": echo cron \*\/5 \* \* \* \*/);
  });

  test('without --tz the local zone is saved with a cron schedule, so workers in another zone keep its clock', async () => {
    const { env } = fresh();
    const tokyo = { ...env, TZ: 'Asia/Tokyo' };
    const manager = await QueueManager.open({ config: loadConfig(env), registry: jobRegistry });
    try {
      // Saved by an earlier Sluice, which left the zone out: the workers' zone then set every run after the first.
      await manager.scheduleCron('echo', { pattern: '0 20 * * *' }, { message: 'old' }, 'echo-cron-0-20-x-x-x');
      const added = await runCli(['add', 'echo', '--data', '{"message":"tz"}', '--cron', '0 20 * * *'], tokyo);
      expect(added.stderr).toBe('');
      expect(added.stdout).toMatch(/^updated schedule "echo-cron-0-20-x-x-x": echo cron 0 20 \* \* \* \(Asia\/Tokyo\), next run (\d{4}-\d{2}-\d{2} )?20:00:00 \((in .+|now|\d+s ago)\)\n$/);
      const schedules = await manager.listCrons();
      expect(schedules).toEqual([expect.objectContaining({ key: 'echo-cron-0-20-x-x-x', pattern: '0 20 * * *', tz: 'Asia/Tokyo', data: { message: 'tz' } })]);
      // 20:00 in Tokyo is 11:00 UTC, whichever zone computes it next.
      expect(schedules[0]!.next!.toISOString()).toMatch(/T11:00:00\.000Z$/);
      // With --key too; an explicit --tz wins.
      const keyed = await runCli(['add', 'echo', '--data', '{"message":"tz"}', '--cron', '*/10 * 20 * * *', '--key', 'tzdemo'], tokyo);
      expect(keyed.stdout).toStartWith('created schedule "tzdemo": echo cron */10 * 20 * * * (Asia/Tokyo), next run ');
      const utc = await runCli(['add', 'echo', '--data', '{"message":"tz"}', '--cron', '0 20 * * *', '--tz', 'UTC', '--key', 'tzdemo'], tokyo);
      expect(utc.stdout).toStartWith('updated schedule "tzdemo": echo cron 0 20 * * * (UTC), next run ');
    } finally {
      await manager.close();
    }
  });

  test('a TZ this machine does not know is refused for a cron schedule without --tz, not saved as UTC', async () => {
    const { env, prefix } = fresh();
    // Before: saved as `(UTC)` without a word, so the schedule ran on another clock than the user's.
    const added = await runCli(['add', 'echo', '--data', '{"message":"tz"}', '--cron', '0 20 * * *'], { ...env, TZ: 'Mars/Olympus' });
    expect(added.code).toBe(2);
    expect(added.stderr).toStartWith('error: TZ="Mars/Olympus" is not a time zone this machine knows');
    expect(await keysUnder(redis, prefix)).toEqual([]);
    // With --tz the pattern's zone is given, and TZ does not matter.
    const zoned = await runCli(['add', 'echo', '--data', '{"message":"tz"}', '--cron', '0 20 * * *', '--tz', 'Asia/Tokyo', '--key', 'tokyo'], { ...env, TZ: 'Mars/Olympus' });
    expect(zoned.stderr).toBe('');
    expect(zoned.stdout).toStartWith('created schedule "tokyo": echo cron 0 20 * * * (Asia/Tokyo), next run ');
  });

  // An earlier Sluice saved a cron schedule under a key without a hash: the same command updates
  // it in place rather than adding a twin that runs the job twice, however the pattern is spaced.
  test.each([
    ['as it was typed', '*/5 * * * *', '*/5 * * * *', 'echo-cron-x-5-x-x-x-x'],
    ['with other spacing', '1-5 * * * *', '1-5  * * * *', 'echo-cron-1-5-x-x-x-x'],
  ])('a schedule saved under the old key (no hash), given %s, is updated in place, not doubled', async (_case, saved, typed, oldKey) => {
    const { env } = fresh();
    const manager = await QueueManager.open({ config: loadConfig(env), registry: jobRegistry });
    try {
      await manager.scheduleCron('echo', { pattern: saved }, { message: 'old' }, oldKey);
      const added = await runCli(['add', 'echo', '--data', '{"message":"new"}', '--cron', typed], env);
      expect(added.stderr).toBe('');
      expect(added.stdout).toStartWith(`updated schedule "${oldKey}": echo cron ${typed}`);
      expect((await manager.listCrons()).map((s) => [s.key, s.data])).toEqual([[oldKey, { message: 'new' }]]);
    } finally {
      await manager.close();
    }
  });

  test('a pattern too long for a key of its own gets the start of its slug and the hash; one saved under a longer key is moved', async () => {
    const { env } = fresh();
    const minutes = Array.from({ length: 60 }, (_, i) => i).join(',');
    const hours = Array.from({ length: 24 }, (_, i) => i).join(',');
    const days = Array.from({ length: 31 }, (_, i) => i + 1).join(',');
    const pattern = `${minutes} ${hours} ${days} * *`;
    const manager = await QueueManager.open({ config: loadConfig(env), registry: jobRegistry });
    try {
      // What yesterday's Sluice saved: the whole slug and the hash, 338 characters. Written
      // past QueueManager, which now refuses such a key.
      const oldKey = defaultScheduleKeyBefore(pattern);
      await manager.queue.upsertJobScheduler(oldKey, { pattern }, { name: 'echo', data: { data: { message: 'old' }, userId: null } });
      const added = await runCli(['add', 'echo', '--data', '{"message":"new"}', '--cron', pattern], env);
      expect(added.stderr).toBe('');
      const key = /^updated schedule "([^"]+)" \(moved from "/.exec(added.stdout)?.[1];
      expect(key).toMatch(/^echo-cron-0-1-2-3-.*-[0-9a-f]{8}$/);
      expect(key!.length).toBeLessThanOrEqual(256);
      expect((await manager.listCrons()).map((s) => [s.key, s.data])).toEqual([[key, { message: 'new' }]]);
      // The same schedule again: updated in place under its new key.
      expect((await runCli(['add', 'echo', '--data', '{"message":"again"}', '--cron', pattern], env)).stdout).toStartWith(`updated schedule "${key}": `);
    } finally {
      await manager.close();
    }
  });

  test('updating a schedule to a pattern that never matches exits 2 and leaves it as it was', async () => {
    const { env } = fresh();
    await runCli(['add', 'echo', '--data', '{"message":"kept"}', '--cron', '0 3 * * *', '--tz', 'UTC', '--key', 'upd'], env);
    const before = (await monitorJson(env)).schedules;
    const result = await runCli(['add', 'echo', '--data', '{"message":"new"}', '--cron', '0 0 31 2,4 *', '--tz', 'UTC', '--key', 'upd'], env);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('error: --cron: invalid cron pattern "0 0 31 2,4 *": it never matches a date (in UTC), so it would never run\n');
    expect(result.code).toBe(2);
    expect((await monitorJson(env)).schedules).toEqual(before);
    expect(before).toEqual([expect.objectContaining({ key: 'upd', pattern: '0 3 * * *' })]);
  });

  test('one pattern and zone written another way updates the schedule: no twin that runs the job again', async () => {
    const { env } = fresh();
    const utcHere = { ...env, TZ: 'UTC' };
    const add = (message: string, ...extra: string[]) => runCli(['add', 'echo', '--data', JSON.stringify({ message }), '--cron', '0 3 * * *', ...extra], utcHere);
    expect((await add('no zone')).stdout).toStartWith('created schedule "echo-cron-0-3-x-x-x": echo cron 0 3 * * * (UTC)');
    // Before: each of these created a schedule of its own, all due at 03:00 UTC.
    for (const tz of ['UTC', 'utc', 'Etc/UTC', 'Zulu']) {
      expect((await add(`--tz ${tz}`, '--tz', tz)).stdout).toStartWith('updated schedule "echo-cron-0-3-x-x-x": echo cron 0 3 * * * (UTC)');
    }
    const berlin = await add('berlin', '--tz', 'europe/berlin');
    expect(berlin.stdout).toMatch(/^created schedule "echo-cron-0-3-x-x-x-Europe-Berlin-[0-9a-f]{8}": echo cron 0 3 \* \* \* \(Europe\/Berlin\)/);
    expect((await add('Berlin', '--tz', 'Europe/Berlin')).stdout).toStartWith('updated schedule "echo-cron-0-3-x-x-x-Europe-Berlin-');
    // Schedules named with --key are not merged: two may run one pattern with different data on purpose.
    expect((await add('keyed', '--key', 'nightly-b')).stdout).toStartWith('created schedule "nightly-b"');
    expect((await add('no zone again')).stdout).toStartWith('updated schedule "echo-cron-0-3-x-x-x"');
    const manager = await QueueManager.open({ config: loadConfig(env), registry: jobRegistry });
    const schedules = await manager.listCrons().finally(() => manager.close());
    expect(schedules.map((s) => [s.key.replace(/-[0-9a-f]{8}$/, ''), s.tz, (s.data as { message: string }).message]).sort()).toEqual([
      ['echo-cron-0-3-x-x-x', 'UTC', 'no zone again'],
      ['echo-cron-0-3-x-x-x-Europe-Berlin', 'Europe/Berlin', 'Berlin'],
      ['nightly-b', 'UTC', 'keyed'],
    ]);
  });

  test('patterns that read alike (1-5, 1,5) get different default keys; the same one again updates it', async () => {
    const { env } = fresh();
    const add = (pattern: string, message: string) => runCli(['add', 'echo', '--data', JSON.stringify({ message }), '--cron', pattern], env);
    const weekdays = await add('0 9 * * 1-5', 'mon-fri');
    const twoDays = await add('0 9 * * 1,5', 'mon,fri');
    expect(weekdays.stdout).toStartWith('created schedule "echo-cron-0-9-x-x-1-5-');
    expect(twoDays.stdout).toStartWith('created schedule "echo-cron-0-9-x-x-1-5-');
    const again = await add('0 9 * * 1-5', 'mon-fri, new text');
    expect(again.stdout).toStartWith('updated schedule ');
    const { schedules } = await monitorJson(env);
    expect(schedules.map((s: any) => s.pattern).sort()).toEqual(['0 9 * * 1,5', '0 9 * * 1-5']);
    expect(new Set(schedules.map((s: any) => s.key)).size).toBe(2);
  });
});

describe('queue:add errors: exit 2, one line naming the problem, nothing enqueued', () => {
  const cases: [string, string[], string | RegExp][] = [
    ['unknown type', ['add', 'nope', '--data', '{}'], /^error: unknown job type "nope" \(known types: echo(, \w+)*\)$/],
    ['bad JSON', ['add', 'echo', '--data', '{nope'], /^error: --data is not valid JSON: .+$/],
    ['invalid payload', ['add', 'echo', '--data', '{"message":5}'], 'error: invalid data for "echo": /message Expected string'],
    ['missing payload field', ['add', 'echo'], 'error: invalid data for "echo": /message Expected required property'],
    ['unknown flag', ['add', 'echo', '--data', '{"message":"x"}', '--nope'], 'error: unknown flag --nope'],
    ['flag missing its value at the end', ['add', 'echo', '--data'], 'error: --data needs a value'],
    ['flag missing its value before another flag', ['add', 'echo', '--delay', '--data', '{"message":"x"}'], 'error: --delay needs a value'],
    ['non-numeric --delay', ['add', 'echo', '--data', '{"message":"x"}', '--delay', 'soon'], 'error: --delay must be a whole number of milliseconds from 0 to 31536000000, got "soon"'],
    ['--delay over 365 days', ['add', 'echo', '--data', '{"message":"x"}', '--delay', '9007199254740991'], 'error: --delay must be a whole number of milliseconds from 0 to 31536000000, got "9007199254740991"'],
    ['--every over 365 days', ['add', 'echo', '--data', '{"message":"x"}', '--every', '31536000001'], 'error: --every must be a whole number of milliseconds from 1000 to 31536000000, got "31536000001"'],
    // Seconds typed as milliseconds would queue a job 16 times a second.
    ['--every under a second', ['add', 'echo', '--data', '{"message":"x"}', '--every', '60'], 'error: --every must be a whole number of milliseconds from 1000 to 31536000000, got "60"'],
    ['--cron with a field missing', ['add', 'echo', '--data', '{"message":"x"}', '--cron', '0 3 * *'], 'error: --cron: invalid cron pattern "0 3 * *": expected 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, got 4'],
    ['both --every and --cron', ['add', 'echo', '--data', '{"message":"x"}', '--every', '1000', '--cron', '* * * * *'], 'error: --every and --cron cannot be combined; pick one'],
    ['--every and its alias --repeat', ['add', 'echo', '--data', '{"message":"x"}', '--every', '1000', '--repeat', '1000'], 'error: --every and --repeat are the same flag; give it once'],
    ['unknown --priority', ['add', 'echo', '--data', '{"message":"x"}', '--priority', 'urgent'], /^error: --priority must be critical, high, normal, low or a whole number .+, got "urgent"$/],
    // BullMQ's largest is 2^21 - 1; 2^21 was once documented as the maximum and failed with BullMQ's own error.
    ['--priority 2097152', ['add', 'echo', '--data', '{"message":"x"}', '--priority', '2097152'], 'error: --priority must be critical, high, normal, low or a whole number from 1 to 2097151, got "2097152"'],
    ['--priority 2097152 with --every', ['add', 'echo', '--data', '{"message":"x"}', '--priority', '2097152', '--every', '60000'], 'error: --priority must be critical, high, normal, low or a whole number from 1 to 2097151, got "2097152"'],
    ['--attempts 0', ['add', 'echo', '--data', '{"message":"x"}', '--attempts', '0'], 'error: --attempts must be a whole number from 1 to 1000, got "0"'],
    ['--attempts over 1000', ['add', 'echo', '--data', '{"message":"x"}', '--attempts', '1000000'], 'error: --attempts must be a whole number from 1 to 1000, got "1000000"'],
    ['numeric --job-id', ['add', 'echo', '--data', '{"message":"x"}', '--job-id', '123'], 'error: --job-id: jobId must not be a number (BullMQ numbers its own jobs), got "123"'],
    ['negative numeric --job-id', ['add', 'echo', '--data', '{"message":"x"}', '--job-id', '-1'], 'error: --job-id: jobId must not be a number (BullMQ numbers its own jobs), got "-1"'],
    ['blank --job-id', ['add', 'echo', '--data', '{"message":"x"}', '--job-id', '  '], 'error: --job-id: jobId must not be empty or blank, got "  "'],
    // `queue:history --job-id 7a` would never find it.
    ['--job-id with spaces around it', ['add', 'echo', '--data', '{"message":"x"}', '--job-id', '  7a'], 'error: --job-id: jobId must not start or end with white space (it would not match "7a"), got "  7a"'],
    ['--key ending in a space', ['add', 'echo', '--data', '{"message":"x"}', '--every', '1000', '--key', 'nightly '], 'error: --key: schedule key must not start or end with white space (it would not match "nightly"), got "nightly "'],
    // A job stored at <prefix>:jobs:repeat would overwrite the queue's schedule index.
    ...['repeat', 'wait', 'failed', 'meta', 'id', 'prioritized'].map((id): [string, string[], RegExp] => [
      `--job-id ${id}, one of the queue's own key names`,
      ['add', 'echo', '--data', '{"message":"x"}', '--job-id', id],
      new RegExp(`^error: --job-id: jobId must not be one of the queue's own key names \\(.*\\b${id}\\b.*\\), got "${id}"$`),
    ]),
    ['--delay with --every', ['add', 'echo', '--data', '{"message":"x"}', '--every', '1000', '--delay', '5'], /^error: --delay cannot be combined with --every\/--cron/],
    ['--tz without --cron', ['add', 'echo', '--data', '{"message":"x"}', '--tz', 'UTC'], 'error: --tz only applies with --cron'],
    ['unknown --tz', ['add', 'echo', '--data', '{"message":"x"}', '--cron', '0 3 * * *', '--tz', 'Mars/Base'], 'error: --tz: unknown time zone "Mars/Base"'],
    ['--cron that never matches a date', ['add', 'echo', '--data', '{"message":"x"}', '--cron', '0 0 31 2,4 *', '--tz', 'UTC', '--key', 'never'], 'error: --cron: invalid cron pattern "0 0 31 2,4 *": it never matches a date (in UTC), so it would never run'],
    ['--cron with a day its only month never has', ['add', 'echo', '--data', '{"message":"x"}', '--cron', '0 0 30 2 *', '--tz', 'UTC'], 'error: --cron: invalid cron pattern "0 0 30 2 *": it never matches a date (in UTC), so it would never run'],
    ['--cron with an unknown macro', ['add', 'echo', '--data', '{"message":"x"}', '--cron', '@dialy'], 'error: --cron: invalid cron pattern "@dialy": no such macro; use one of @yearly, @annually, @monthly, @weekly, @daily, @hourly, @minutely, @secondly, @weekdays, @weekends, or fields such as "0 3 * * *"'],
    ['--cron with H, which BullMQ gives no seed', ['add', 'echo', '--data', '{"message":"x"}', '--cron', 'H * * * *'], 'error: --cron: invalid cron pattern "H * * * *": H (a hashed value) is not supported: BullMQ gives it no seed, so each run would pick a new random time; write the value itself, e.g. 17 instead of H'],
    ['invalid cron pattern', ['add', 'echo', '--data', '{"message":"x"}', '--cron', 'every day'], /^error: --cron: invalid cron pattern "every day": .+$/],
    ['--key with a colon', ['add', 'echo', '--data', '{"message":"x"}', '--every', '1000', '--key', 'a:b'], `error: --key: schedule key must be non-empty and without ':', got "a:b"`],
    ['--key too long for its executions\' audit rows', ['add', 'echo', '--data', '{"message":"x"}', '--every', '1000', '--key', 'k'.repeat(257)], `error: --key: schedule key must be at most 256 characters (it has 257), got "${'k'.repeat(60)}…"`],
    // The key becomes part of each run's job id, and is printed by every listing.
    ['--key with a terminal escape', ['add', 'echo', '--data', '{"message":"x"}', '--every', '1000', '--key', 'evil\u001b[31mRED'], 'error: --key: schedule key must not contain control characters (U+0000-U+001F, U+007F-U+009F: NUL, newlines, tabs, terminal escapes), got "evil\\u001b[31mRED"'],
    ['--key with a newline', ['add', 'echo', '--data', '{"message":"x"}', '--cron', '0 3 * * *', '--key', 'two\nlines'], 'error: --key: schedule key must not contain control characters (U+0000-U+001F, U+007F-U+009F: NUL, newlines, tabs, terminal escapes), got "two\\nlines"'],
    ['--job-id too long for its executions\' audit rows', ['add', 'echo', '--data', '{"message":"x"}', '--job-id', 'j'.repeat(513)], `error: --job-id: jobId must be at most 512 characters (it has 513), got "${'j'.repeat(60)}…"`],
    ['reserved --key', ['add', 'echo', '--data', '{"message":"x"}', '--every', '1000', '--key', 'builtin-echo'], /^error: --key must not start with "builtin-"/],
    ['missing type', ['add'], /^error: missing <type> \(known types: echo/],
    ['extra argument', ['add', 'echo', 'more', '--data', '{"message":"x"}'], 'error: unexpected argument "more"'],
  ];

  for (const [name, args, message] of cases) {
    test(name, async () => {
      const { prefix, env } = fresh();
      const result = await runCli(args, env);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.endsWith('\n')).toBe(true);
      const line = result.stderr.slice(0, -1);
      expect(line).not.toContain('\n');
      if (typeof message === 'string') expect(line).toBe(message);
      else expect(line).toMatch(message);
      expect(await keysUnder(redis, prefix)).toEqual([]);
    });
  }
});

describe('queue:add with a Redis database index the server does not have', () => {
  test('exits 1 naming the index, and writes nothing into database 0', async () => {
    const base = new URL(testEnv().REDIS_URL!);
    const { prefix, env } = fresh();
    const result = await runCli(['add', 'echo', '--data', '{"message":"x"}'], { ...env, REDIS_URL: `redis://${base.host}/99` });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: Redis at redis://${base.host}/99 refused database 99 (ERR DB index is out of range): use an index below its "databases" setting (16 by default).\n`);
    expect(await keysUnder(redis, prefix)).toEqual([]);
  });
});

describe('queue:add with Redis down', () => {
  test('exits 1 with the RedisUnavailableError message', async () => {
    const port = closedPort();
    const result = await runCli(['add', 'echo', '--data', '{"message":"x"}'], testEnv({ REDIS_URL: `redis://127.0.0.1:${port}`, QUEUE_PREFIX: 'unused' }));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`error: Redis at redis://127.0.0.1:${port} is not reachable (connect ECONNREFUSED 127.0.0.1:${port}). Is it running? \`bun run dev\` starts one.\n`);
  }, 10_000);

  test('a TLS or remote Redis that does not answer is not sent to `bun run dev`, which starts only a plain local one', async () => {
    const port = closedPort();
    const tls = await runCli(['add', 'echo', '--data', '{"message":"x"}'], testEnv({ REDIS_URL: `rediss://127.0.0.1:${port}`, QUEUE_PREFIX: 'unused' }));
    expect(tls.code).toBe(1);
    expect(tls.stderr).toStartWith(`error: Redis at rediss://127.0.0.1:${port} is not reachable (`);
    expect(tls.stderr).toEndWith('Is it running, and does it speak TLS on that port (rediss://)?\n');
    // 127.0.0.2 is another host as far as REDIS_URL goes (Linux answers it on loopback: refused at once).
    const remote = await runCli(['add', 'echo', '--data', '{"message":"x"}'], testEnv({ REDIS_URL: `redis://127.0.0.2:${port}`, QUEUE_PREFIX: 'unused' }));
    expect(remote.code).toBe(1);
    expect(remote.stderr).toStartWith(`error: Redis at redis://127.0.0.2:${port} is not reachable (`);
    expect(remote.stderr).toEndWith('Is it running, and can this machine reach it?\n');
  }, 20_000);
});

/** The default key of a cron schedule as Sluice derived it before keys were held to 256 characters. */
function defaultScheduleKeyBefore(pattern: string): string {
  const slug = pattern.replaceAll('*', 'x').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  const hash = createHash('sha256').update(`${pattern}\n`).digest('hex').slice(0, 8);
  return `echo-cron-${slug}-${hash}`;
}
