/**
 * A Redis that turns the workers' user away. At start, `bun run worker` names it and exits 1,
 * as the server does. A worker process that met the refusal looped on it, hundreds of
 * thousands of times a second: starved of timers, it logged `worker error` until the disk
 * filled (8 million lines in 8 s before this). Now it exits, and its supervisor gives up
 * saying why. Real Redis with an ACL user, real `bun apps/worker/src/main.ts`, worker
 * processes and Supervisor.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type { Subprocess } from 'bun';
import { Redis } from 'ioredis';
import { WORKER_ENTRY } from '@sluice/worker-app';
import { killIfRunning, spawnWorkerMain, startTestSupervisor, type WorkerMainProcess } from '../helpers/processes.ts';
import { testConfig, testEnv, uniquePrefix } from '../helpers/env.ts';
import { jobRegistry } from '@sluice/jobs';
import { QueueManager } from '@sluice/queue';
import { freePort } from '../helpers/ports.ts';
import { waitForSettled } from '../helpers/queue.ts';
import { waitFor, within } from '../helpers/wait.ts';

const user = `sluice-t-${crypto.randomUUID().slice(0, 8)}`;
const password = `pw-${crypto.randomUUID().slice(0, 8)}`;
const adminUrl = testConfig().redis.url;
let admin: Redis;

function urlFor(pass: string): string {
  const url = new URL(adminUrl);
  url.username = user;
  url.password = pass;
  return url.toString();
}

beforeAll(async () => {
  admin = new Redis(adminUrl);
  await admin.call('ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, '~*', '&*', '+@all');
});

afterAll(async () => {
  await admin.call('ACL', 'DELUSER', user);
  admin.disconnect();
});

test.each([
  ['a wrong password', () => urlFor('wrong'), 'refused the login (WRONGPASS'],
  ['a user an ACL denies INFO', () => urlFor(password), "does not let REDIS_URL's user run what Sluice needs (NOPERM"],
  ['a user an ACL denies scripts', () => urlFor(password), "does not let REDIS_URL's user run what Sluice needs (NOPERM"],
  ['a database index Redis does not have', () => Object.assign(new URL(adminUrl), { pathname: '/99' }).toString(), 'refused database 99 (ERR DB index is out of range)'],
] as const)('%s: `bun run worker` exits 1 at start, naming it, before forking workers', async (_case, url, expected) => {
  const denied = _case.includes('INFO') ? '-info' : _case.includes('scripts') ? '-@scripting' : null;
  if (denied) await admin.call('ACL', 'SETUSER', user, denied);
  let worker: WorkerMainProcess | undefined;
  try {
    worker = spawnWorkerMain({ REDIS_URL: url(), AUDIT_ENABLED: 'false', LOG_PRETTY: 'false', LOG_LEVEL: 'info', QUEUE_PREFIX: uniquePrefix('refusal') });
    const code = await within('bun run worker to exit', worker.exited, 20_000);
    expect(code).toBe(1);
    expect(worker.stderr()).toContain(`sluice worker: Redis at ${url().replace(`:${password}@`, ':***@').replace(':wrong@', ':***@')} ${expected}`);
    expect(worker.stderr()).not.toContain(password);
    // Before: it forked its workers, which retried the refusal without end.
    expect(worker.stdout()).not.toContain('supervisor started');
    // Nor does it first promise to wait for a Redis that has answered.
    expect(worker.stdout()).not.toContain('not answering yet');
  } finally {
    await killIfRunning(worker?.proc);
    if (denied) await admin.call('ACL', 'SETUSER', user, denied === '-info' ? '+info' : '+@scripting');
  }
}, 30_000);

/**
 * A worker process that starts while Redis refuses its user: one the supervisor restarts after
 * the ACL changed. (A running worker keeps its connections, and a changed password has BullMQ
 * retry with pauses, logged once a second; only a fresh start met the refusal in a tight loop.)
 */
test('a worker process started while an ACL denies INFO exits 1 at once, saying why, with one log line', async () => {
  await admin.call('ACL', 'SETUSER', user, '-info');
  let proc: Subprocess | undefined;
  try {
    const child = (proc = Bun.spawn([process.execPath, WORKER_ENTRY], {
      env: testEnv({ REDIS_URL: urlFor(password), AUDIT_ENABLED: 'false', LOG_PRETTY: 'false', LOG_LEVEL: 'info', QUEUE_PREFIX: uniquePrefix('refusal') }),
      stdout: 'pipe',
      stderr: 'pipe',
    }));
    const [stdout, stderr, code] = await within('the worker process to exit', Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]), 20_000);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: worker 0 stopped: BullMQ reported \d+ errors within 1000 ms: Redis at \S+ does not let REDIS_URL's user run what Sluice needs \(NOPERM/m);
    // Before: a `worker error` line per refusal, about a million a second, until killed.
    expect(stdout.split('\n').filter((line) => line.includes('"msg":"worker error"'))).toHaveLength(1);
  } finally {
    await killIfRunning(proc);
    await admin.call('ACL', 'SETUSER', user, '+info');
  }
}, 30_000);

test('its supervisor restarts it with backoff, then gives up with that line as the reason', async () => {
  await admin.call('ACL', 'SETUSER', user, '-info');
  try {
    const supervisor = startTestSupervisor({
      env: { REDIS_URL: urlFor(password), AUDIT_ENABLED: 'false', QUEUE_PREFIX: uniquePrefix('refusal') },
      restartPolicy: { baseDelayMs: 10, maxDelayMs: 50, maxCrashes: 2, windowMs: 60_000 },
    });
    const exit = await within('the supervisor to give up', supervisor.done, 30_000).finally(() => supervisor.stop());
    expect(exit.code).toBe(1);
    expect(exit.reason).toMatch(/^worker 1 crashed 3 times within 60000 ms \(last exit: code 1\); last output: .*error: worker 1 stopped: BullMQ reported \d+ errors within 1000 ms: Redis at \S+ does not let REDIS_URL's user run what Sluice needs \(NOPERM/);
  } finally {
    await admin.call('ACL', 'SETUSER', user, '+info');
  }
}, 60_000);

test('a Redis that is not up yet is waited for, not refused: the worker starts, and runs jobs once Redis is there', async () => {
  const port = await freePort();
  const env = { REDIS_URL: `redis://127.0.0.1:${port}`, AUDIT_ENABLED: 'false', LOG_PRETTY: 'false', LOG_LEVEL: 'info', WORKER_COUNT: '1', QUEUE_PREFIX: uniquePrefix('refusal-wait') };
  const worker = spawnWorkerMain(env);
  let redis: ReturnType<typeof Bun.spawn> | undefined;
  try {
    await waitFor('the worker to say it waits', () => worker.stdout().includes('redis not answering yet; the workers wait for it'), { timeoutMs: 20_000 });
    // Before: `sluice worker: Redis at … is not reachable`, exit 1.
    expect(worker.proc.exitCode).toBeNull();
    redis = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdout: 'ignore', stderr: 'inherit' });
    await waitFor('redis-server to answer', () => Bun.spawnSync(['redis-cli', '-p', String(port), 'ping']).stdout.toString().trim() === 'PONG');
    const queue = await QueueManager.open({ config: testConfig(env), registry: jobRegistry });
    try {
      const { id } = await queue.submit('echo', { message: 'redis came up' });
      expect((await waitForSettled(queue.queue, id, 60_000)).state).toBe('completed');
    } finally {
      await queue.close();
    }
  } finally {
    await killIfRunning(worker.proc);
    redis?.kill('SIGKILL');
    await redis?.exited;
  }
}, 90_000);
