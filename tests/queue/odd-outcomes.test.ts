/**
 * Whatever a handler throws or returns, the job ends in a state BullMQ can show, every
 * execution has its worker_jobs row, and a permanent failure stays permanent. Real worker
 * process (the `odd` scratch type), Redis, Postgres and audit writer.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openAuditStore, type AuditStore, type WorkerJob } from '@sluice/db';
import { ERROR_TEXT_LIMITS } from '@sluice/queue';
import type { Supervisor } from '@sluice/supervisor';
import { startWriter, type TestWriter } from '../audit/support.ts';
import { postgresDatabase, type TestDatabase } from '../helpers/db.ts';
import { startTestSupervisor, stopSupervisor, waitForChildrenReady } from '../helpers/processes.ts';
import { openTestQueue, waitForSettled, type TestQueue } from '../helpers/queue.ts';
import { oddRegistry, type OddKind } from './fixtures/odd-jobs.ts';

const WORKER_ENTRY = join(import.meta.dir, 'fixtures/odd-worker.ts');
const workerLog = join(tmpdir(), `sluice-odd-worker-${crypto.randomUUID().slice(0, 8)}.log`);

let db: TestDatabase;
let store: AuditStore;
let queue: TestQueue<typeof oddRegistry>;
let writer: TestWriter;
let supervisor: Supervisor;

// Generous: a fresh PGlite store (where no Postgres runs) alone takes 11-14 s to open on a loaded machine.
beforeAll(async () => {
  db = await postgresDatabase('odd_outcomes');
  queue = await openTestQueue('odd-outcomes', { registry: oddRegistry, env: { ...db.env, WORKER_QUEUE_CONCURRENCY: '8' } });
  store = await openAuditStore(queue.config);
  await migrate(store);
  writer = await startWriter(store, queue.config);
  // warn: the level at which the processor logs every failure, so its log lines can be checked.
  supervisor = startTestSupervisor({ env: { ...queue.env, LOG_LEVEL: 'warn', SLUICE_TEST_WORKER_LOG: workerLog }, entry: WORKER_ENTRY });
  await waitForChildrenReady(supervisor);
}, 120_000);

afterAll(async () => {
  await stopSupervisor(supervisor);
  await writer?.stop();
  await queue?.close();
  await store?.close();
  await db?.drop();
  rmSync(workerLog, { force: true });
}, 30_000);

interface Outcome {
  state: 'completed' | 'failed';
  attemptsMade: number;
  failedReason: string | undefined;
  rows: WorkerJob[];
  /** The processor's `job failed` log lines for this job. */
  failureLogs: Array<Record<string, unknown>>;
}

/** Runs one `odd` job to its final state, then reads its rows once every record is written. */
async function run(kind: OddKind, attempts: number): Promise<Outcome> {
  const { id } = await queue.manager.submit('odd', { kind }, { attempts });
  const { job, state } = await waitForSettled(queue.manager.queue, id);
  // Each record reaches the stream before its job's outcome reaches BullMQ: all are there now.
  expect(await writer.writer.flush()).toBe(true);
  const rows = (await store.getJobHistory({ jobId: id, limit: 100 })).rows.sort((a, b) => a.attempt - b.attempt || a.id - b.id);
  const failureLogs = readFileSync(workerLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.jobId === id && line.msg === 'job failed');
  return { state, attemptsMade: job.attemptsMade, failedReason: job.failedReason, rows, failureLogs };
}

const UNPRINTABLE_ERROR = '[unprintable thrown value: [object Error]]';

describe('a thrown value that cannot be described the ordinary way', () => {
  test.each([
    ['message-getter-throws', 'Error', UNPRINTABLE_ERROR],
    ['name-getter-throws', 'Error', 'readable message'],
    ['null-prototype', 'Error', '[unprintable thrown value: [object Object]]'],
    ['toString-throws', 'Error', '[unprintable thrown value: [object Object]]'],
  ] as const)('%s: every attempt has its row and log line, with a fallback description', async (kind, name, message) => {
    const outcome = await run(kind, 2);
    expect(outcome.state).toBe('failed');
    expect(outcome.attemptsMade).toBe(2);
    expect(outcome.failedReason).toBe(message);
    expect(outcome.rows.map((row) => [row.attempt, row.status, row.willRetry, row.error?.name, row.error?.message])).toEqual([
      [1, 'failed', true, name, message],
      [2, 'failed', false, name, message],
    ]);
    expect(outcome.failureLogs).toHaveLength(2);
  }, 30_000);

  test('a PermanentError whose message cannot be read still fails at once, with its row', async () => {
    const outcome = await run('permanent-message-getter-throws', 3);
    expect(outcome.state).toBe('failed');
    expect(outcome.attemptsMade).toBe(1);
    expect(outcome.failedReason).toBe(UNPRINTABLE_ERROR);
    expect(outcome.rows).toHaveLength(1);
    expect(outcome.rows[0]).toMatchObject({ status: 'failed', willRetry: false, error: { name: 'PermanentError', message: UNPRINTABLE_ERROR } });
    expect(outcome.failureLogs).toHaveLength(1);
  }, 30_000);
});

test('a PermanentError subclass with a name of its own fails at once too, recorded under its name', async () => {
  const outcome = await run('permanent-subclass', 3);
  expect(outcome.state).toBe('failed');
  // Before: retried, as the check compared names only.
  expect(outcome.attemptsMade).toBe(1);
  expect(outcome.rows).toHaveLength(1);
  expect(outcome.rows[0]).toMatchObject({ status: 'failed', willRetry: false, error: { name: 'BadInput', message: 'no such customer' } });
}, 30_000);

describe('a thrown value that is not an Error', () => {
  test.each(['null', 'undefined'] as const)('throw %s: one failed attempt, recorded, not run again', async (kind) => {
    const outcome = await run(kind, 1);
    expect(outcome.state).toBe('failed');
    expect(outcome.attemptsMade).toBe(1);
    expect(outcome.failedReason).toBe(`handler threw a non-Error value: ${kind}`);
    expect(outcome.rows).toHaveLength(1);
    expect(outcome.rows[0]).toMatchObject({ status: 'failed', willRetry: false, error: { name: 'Error', message: `handler threw a non-Error value: ${kind}` } });
    expect(outcome.failureLogs).toHaveLength(1);
  }, 30_000);

  test.each([
    ['string', 'a string'],
    ['number', 'handler threw a non-Error value: 42'],
    ['symbol', 'handler threw a non-Error value: Symbol(boom)'],
    ['bigint', 'handler threw a non-Error value: 10n'],
    ['object-with-message', 'plain object'],
    ['object-without-message', 'handler threw a non-Error value: {"code":42}'],
  ] as const)('throw a %s: BullMQ and the audit row show the same text', async (kind, text) => {
    const outcome = await run(kind, 1);
    expect(outcome.state).toBe('failed');
    expect(outcome.failedReason).toBe(text);
    expect(outcome.rows).toHaveLength(1);
    expect(outcome.rows[0]!.error).toMatchObject({ name: 'Error', message: text });
  }, 30_000);
});

describe('a promise a handler did not await', () => {
  test('its rejection is logged and the job, its neighbours and the worker process run on', async () => {
    const neighbour = queue.manager.submit('odd', { kind: 'stray-rejection' }, { attempts: 1 });
    const outcome = await run('stray-rejection', 1);
    // Before: the process exited; both jobs stalled, and a second stall failed them for good.
    expect(outcome.state).toBe('completed');
    expect(outcome.rows).toMatchObject([{ status: 'completed', attempt: 1 }]);
    expect((await waitForSettled(queue.manager.queue, (await neighbour).id)).state).toBe('completed');
    const strays = readFileSync(workerLog, 'utf8').split('\n').filter((line) => line.includes('unhandled promise rejection'));
    expect(strays.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(strays[0]!)).toMatchObject({ level: 50, err: { message: 'stray: nobody awaited me' } });
    expect(supervisor.snapshot().map((child) => child.restarts)).toEqual([0]);
  }, 30_000);

  test('5,000 of them are a few log lines, and a reason whose getters throw does not end the process', async () => {
    const before = readFileSync(workerLog, 'utf8').length;
    const outcome = await run('stray-rejections', 1);
    expect(outcome.state).toBe('completed');
    const lines = readFileSync(workerLog, 'utf8').slice(before).split('\n').filter((line) => line.includes('unhandled promise rejection'));
    // Before: one line per rejection (26 MB for 100,000), and the unreadable one exited the process.
    expect(lines.length).toBeGreaterThanOrEqual(1);
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(supervisor.snapshot().map((child) => child.restarts)).toEqual([0]);
  }, 30_000);
});

describe('an error the logger cannot serialise', () => {
  test('a frozen PermanentError fails the job at once with its own message, logged as described', async () => {
    const outcome = await run('frozen-permanent', 3);
    expect(outcome.state).toBe('failed');
    expect(outcome.attemptsMade).toBe(1);
    expect(outcome.failedReason).toBe('frozen and permanent');
    expect(outcome.rows).toHaveLength(1);
    expect(outcome.rows[0]).toMatchObject({ status: 'failed', willRetry: false, error: { name: 'PermanentError', message: 'frozen and permanent' } });
    expect(outcome.failureLogs).toHaveLength(1);
    expect(outcome.failureLogs[0]).toMatchObject({ level: 50, willRetry: false, err: { type: 'PermanentError', name: 'PermanentError', message: 'frozen and permanent' } });
  }, 30_000);

  test('a frozen retryable Error is retried as usual, every attempt recorded', async () => {
    const outcome = await run('frozen', 2);
    expect(outcome.state).toBe('failed');
    expect(outcome.attemptsMade).toBe(2);
    expect(outcome.failedReason).toBe('frozen');
    expect(outcome.rows.map((row) => [row.attempt, row.willRetry, row.error?.message])).toEqual([
      [1, true, 'frozen'],
      [2, false, 'frozen'],
    ]);
    expect(outcome.failureLogs).toHaveLength(2);
  }, 30_000);
});

describe('an error carrying a whole response body', () => {
  const cutMessage = `${`upstream said: ${'<html>'.repeat(200_000)}`.slice(0, ERROR_TEXT_LIMITS.messageChars)}… [truncated ${15 + 1_200_000 - ERROR_TEXT_LIMITS.messageChars} chars]`;
  test.each([
    ['huge-message', 2, 'Error'],
    ['huge-permanent', 1, 'PermanentError'],
  ] as const)('%s: Redis, the audit row and the log keep it cut to the row\'s limits, and it is retried or not as usual', async (kind, attempts, name) => {
    const outcome = await run(kind, 2);
    expect(outcome.state).toBe('failed');
    expect(outcome.attemptsMade).toBe(attempts);
    // Before: the whole 1.2 MB message as failedReason, and again in each attempt's stack.
    expect(outcome.failedReason).toBe(cutMessage);
    const job = (await queue.manager.queue.getJob(outcome.rows[0]!.jobId))!;
    expect(job.stacktrace).toHaveLength(attempts);
    for (const stack of job.stacktrace ?? []) {
      expect(stack.length).toBeLessThanOrEqual(ERROR_TEXT_LIMITS.stackChars + 40);
      expect(stack).toStartWith(kind === 'huge-permanent' ? 'UnrecoverableError: upstream said: <html>' : 'Error: upstream said: <html>');
    }
    expect(outcome.rows.map((row) => [row.error?.name, row.error?.message])).toEqual(Array.from({ length: attempts }, () => [name, outcome.failedReason]));
    expect(outcome.failureLogs).toHaveLength(attempts);
    for (const line of outcome.failureLogs) {
      expect((line.err as { message: string }).message).toBe(outcome.failedReason!);
      expect(JSON.stringify(line).length).toBeLessThan(20_000);
    }
  }, 30_000);

  test.each(['huge-cause', 'huge-aggregate', 'huge-property', 'huge-name'] as const)('%s: the log line stays kilobytes too', async (kind) => {
    const outcome = await run(kind, 2);
    expect(outcome.state).toBe('failed');
    expect(outcome.attemptsMade).toBe(2);
    expect(outcome.failedReason!.length).toBeLessThanOrEqual(ERROR_TEXT_LIMITS.messageChars + 40);
    expect(outcome.failureLogs).toHaveLength(2);
    // Before: 0.9 to 1.8 MB a line (pino copies causes, aggregated errors and every property).
    for (const line of outcome.failureLogs) expect(JSON.stringify(line).length).toBeLessThan(40_000);
    expect(JSON.stringify(outcome.failureLogs[0])).toContain('… [truncated ');
  }, 30_000);
});

describe('a result that cannot be stored as JSON', () => {
  const cannotStore = "the handler's result cannot be stored as JSON: ";
  test.each([
    ['bigint-result', `${cannotStore}JSON.stringify cannot serialize BigInt (return strings for bigints)`],
    ['nested-bigint-result', `${cannotStore}JSON.stringify cannot serialize BigInt (return strings for bigints)`],
    ['cyclic-result', `${cannotStore}JSON.stringify cannot serialize cyclic structures`],
    ['toJSON-throws-result', `${cannotStore}toJSON exploded`],
    ['getter-throws-result', `${cannotStore}total getter exploded`],
    ['deep-result', `${cannotStore}Maximum call stack size exceeded`],
  ] as const)('%s: the job fails for good, not retried, with one failed row saying why', async (kind, message) => {
    const outcome = await run(kind, 3);
    expect(outcome.state).toBe('failed');
    expect(outcome.attemptsMade).toBe(1);
    expect(outcome.failedReason).toBe(message);
    expect(outcome.rows).toHaveLength(1);
    expect(outcome.rows[0]).toMatchObject({ status: 'failed', willRetry: false, result: null, error: { name: 'UnrecoverableError', message } });
    expect(outcome.failureLogs).toHaveLength(1);
  }, 30_000);
});
