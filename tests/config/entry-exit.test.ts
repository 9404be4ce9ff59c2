/** `bun run worker` with a bad environment: exit 1, every problem on stderr, and no connection attempted. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { connectionRecorder, type ConnectionRecorder } from '../helpers/ports.ts';
import { spawnWorkerMain } from '../helpers/processes.ts';
import { testEnv, uniquePrefix } from '../helpers/env.ts';
import { within } from '../helpers/wait.ts';

let redis: ConnectionRecorder;

beforeAll(async () => {
  // Where REDIS_URL points: it would see any connection, and never answers one.
  redis = await connectionRecorder();
});
afterAll(async () => {
  await redis?.close();
});

test('an invalid env stops the worker entry with exit 1 and the problems on stderr, before connecting', async () => {
  const worker = spawnWorkerMain({
    QUEUE_PREFIX: uniquePrefix('config-exit'),
    REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    WORKER_COUNT: 'abc',
    WORKER_QUEUE_CONCURRENCY: '0',
    WORKER_QUEUE_CONCURENCY: '3',
  });

  const code = await within('the worker entry to exit', worker.exited, 10_000);

  expect(code).toBe(1);
  const stderr = worker.stderr();
  expect(stderr).toContain('Invalid configuration (3 problems):');
  expect(stderr).toContain('WORKER_COUNT must be a whole number, got "abc"');
  expect(stderr).toContain('WORKER_QUEUE_CONCURRENCY must be between 1 and 10000, got 0');
  expect(stderr).toContain('did you mean WORKER_QUEUE_CONCURRENCY?');
  expect(redis.connections()).toBe(0);
});

test('a worker process whose Redis refuses the URL database index exits 1 saying so, instead of serving database 0', async () => {
  const base = new URL(testEnv().REDIS_URL!);
  const child = Bun.spawn([process.execPath, 'apps/worker/src/child.ts'], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: testEnv({ QUEUE_PREFIX: uniquePrefix('db-index'), REDIS_URL: `redis://${base.host}/99`, AUDIT_ENABLED: 'false' }),
    stdout: 'ignore',
    stderr: 'pipe',
  });
  const [stderr, code] = await Promise.all([new Response(child.stderr).text(), within('the worker process to exit', child.exited, 15_000)]);
  expect(code).toBe(1);
  expect(stderr).toContain(`sluice worker: Redis at redis://${base.host}/99 refused database 99 (ERR DB index is out of range)`);
});
