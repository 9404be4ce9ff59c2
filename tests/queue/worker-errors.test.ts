/**
 * workerErrorHandler: what a worker logs of BullMQ's error events, and when it gives up. A lost
 * lock is one error per job that held one (1,000 at once with WORKER_QUEUE_CONCURRENCY=1000
 * after a 5 s Redis stall): a burst that ends, not a refusal repeated without end, so it must
 * not stop the worker, and it is one log line, not one per job.
 */
import { expect, test } from 'bun:test';
import { Writable } from 'node:stream';
import pino from 'pino';
import { ERROR_STORM, workerErrorHandler } from '@sluice/queue';

function capture() {
  const lines: Array<Record<string, any>> = [];
  const log = pino({ level: 'info' }, new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  }));
  const storms: number[] = [];
  return { lines, storms, handle: workerErrorHandler(log, (_error, events) => storms.push(events)) };
}

test('1,500 lost locks at once: no storm, and one line counting the rest', () => {
  const { lines, storms, handle } = capture();
  for (let job = 1; job <= 1500; job++) handle(new Error(`could not renew lock for job ${job}`));
  handle(new Error('could not renew lock for job 1501'));
  // Before: the worker exited at the 1,000th ("a wrong password in REDIS_URL, or an ACL ..."), and 999 lines were written.
  expect(storms).toEqual([]);
  expect(lines.filter((line) => line.msg === 'worker error')).toHaveLength(1);
});

test('one refusal repeated 1,000 times within a second is a storm, reported once', () => {
  const { lines, storms, handle } = capture();
  for (let i = 0; i < 2 * ERROR_STORM.events; i++) handle(new Error("NOPERM this user has no permissions to run the 'info' command"));
  expect(storms).toEqual([ERROR_STORM.events]);
  expect(lines).toHaveLength(1);
});

test('many kinds at once are capped at 20 lines per window, the rest counted on the next', () => {
  const { lines, handle } = capture();
  for (let i = 0; i < 100; i++) handle(new Error(`kind ${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + Math.floor(i / 26))}`));
  expect(lines).toHaveLength(20);
});

test("a full Redis's refusal (OOM) is logged saying so, once per window", () => {
  const { lines, storms, handle } = capture();
  const oom = "OOM command not allowed when used memory > 'maxmemory'. script: d96ca626f1ea141b44a856b312fc636d99aa9ea9, on @user_script:217.";
  for (let i = 0; i < 5; i++) handle(new Error(oom));
  expect(storms).toEqual([]);
  // Before: `worker error`, with Redis's reply as the only clue.
  expect(lines.map((line) => line.msg)).toEqual(['redis is out of memory (maxmemory reached; its policy refuses writes): jobs cannot start or finish until memory is freed or maxmemory raised']);
  expect(lines[0]!.err.message).toBe(oom);
});
