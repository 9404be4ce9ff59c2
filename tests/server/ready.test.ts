/** /ready follows Redis, the database and the worker processes; /health stays 200 throughout. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jobRegistry, type JobRegistry } from '@sluice/jobs';
import { QueueManager } from '@sluice/queue';
import { checkReadiness } from '@sluice/server-app';
import { ensureRedis, type RedisHandle } from '../../scripts/infra/redis.ts';
import { postgresUnavailable, TEST_POSTGRES_URL } from '../helpers/db.ts';
import { testConfig, uniquePrefix } from '../helpers/env.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.ts';
import { REPO_ROOT, SERVER_HOOK_TIMEOUT_MS, spawnServer, type ServerProcess } from './helpers/server-process.ts';
import { waitUntil } from './helpers/wait.ts';

setDefaultTimeout(60_000);

// Dropping the database under the server and roles that may not insert need a real
// Postgres; where none answers, the server runs on PGlite and those tests are skipped.
const noPostgres = (await postgresUnavailable()) !== undefined;

describe('a real server whose Redis goes away and comes back', () => {
  // Its own redis-server, so stopping it cannot disturb the shared test Redis.
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-ready-'));
  let port: number;
  let redis: RedisHandle;
  let db: TestDatabase;
  let server: ServerProcess;

  const startRedis = () => ensureRedis({ port, name: `sluice-ready-redis-${port}`, mode: 'exclusive', stateDir });
  const ready = async () => {
    const response = await server.request('/ready');
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis();
    db = await createTestDatabase('ready');
    server = await spawnServer({ label: 'ready', env: { REDIS_URL: redis.url, ...db.env, WORKER_COUNT: '1', ENABLE_SCHEDULED_JOBS: 'true' } });
  }, SERVER_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
    await db?.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('ready with every dependency up', async () => {
    const { status, body } = await ready();
    expect(status).toBe(200);
    expect(body.status).toBe('ready');
    expect(body.checks.redis.status).toBe('up');
    expect(body.checks.database.status).toBe('up');
    expect(body.checks.workers).toEqual({ status: 'up', up: 1, total: 1 });
  });

  test('503 with Redis stopped, while /health stays 200; 200 again once Redis is back', async () => {
    await redis.stop();
    const down = await waitUntil('/ready to report 503', async () => {
      const result = await ready();
      return result.status === 503 && result;
    });
    expect(down.body.status).toBe('not_ready');
    expect(down.body.checks.redis.status).toBe('down');
    // Where it is trying, and why it cannot (ioredis alone says "Stream isn't writeable and enableOfflineQueue options is false").
    expect(down.body.checks.redis.error).toMatch(new RegExp(`^not connected to Redis at 127\\.0\\.0\\.1:${port}: (connect ECONNREFUSED|connection |the connection closed)`));
    expect((await server.request('/health')).status).toBe(200);
    // Prometheus still gets its scrape: the Redis-backed gauges are skipped, not waited for
    // (before, the audit gauges queued behind the writer's reconnect and the scrape hung).
    const metrics = await server.request('/metrics', { signal: AbortSignal.timeout(15_000) });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('sluice_worker_processes{state="ready"} 1');
    // API calls that need Redis say so instead of failing with a 500.
    const submit = await server.request('/api/v1/jobs/stats');
    expect(submit.status).toBe(503);
    expect(((await submit.json()) as any).error.code).toBe('REDIS_UNAVAILABLE');
    // Every request fails alike during the outage: the log says so once, not once per request.
    for (let i = 0; i < 20; i++) expect((await server.request('/api/v1/jobs/stats')).status).toBe(503);
    const refusals = server.logs().filter((line) => line.msg === 'request refused: a dependency is unavailable or too slow' || line.msg === 'request failed');
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ level: 40, code: 'REDIS_UNAVAILABLE' });

    redis = await startRedis();
    await waitUntil('/ready to report 200 again', async () => (await ready()).status === 200);
    expect((await server.request('/health')).status).toBe(200);
    // This Redis keeps nothing on disk: it came back empty, and the built-in schedules are put back.
    await waitUntil('the built-in retention schedule to be back', async () => {
      const body = (await (await server.request('/api/v1/jobs/schedules')).json()) as any;
      return JSON.stringify(body).includes('builtin-cleanupAuditLog');
    });

    // The worker processes reconnected too: a job submitted now runs and is audited.
    const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'after the outage' } } });
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    const job = await waitUntil(`job ${id} to complete with its audit row`, async () => {
      const body = (await (await server.request(`/api/v1/jobs/${id}`)).json()) as any;
      return body.state === 'completed' && body.audit?.length === 1 && body;
    });
    expect(job.result.message).toBe('after the outage');
    expect(job.audit[0]).toMatchObject({ jobId: id, status: 'completed', attempt: 1 });
  });

  test.skipIf(noPostgres)('503 when the audit database is gone, and while it is back but empty', async () => {
    const name = new URL(db.env.DATABASE_URL).pathname.slice(1);
    await db.sql!.close();
    const { SQL } = await import('bun');
    const admin = new SQL(TEST_POSTGRES_URL);
    await admin.unsafe(`drop database ${name} with (force)`);
    const down = await waitUntil('/ready to report the database down', async () => {
      const result = await ready();
      return result.status === 503 && result;
    });
    expect(down.body.checks.database.status).toBe('down');
    expect(down.body.checks.redis.status).toBe('up');
    expect((await server.request('/health')).status).toBe(200);

    await admin.unsafe(`create database ${name}`);
    await admin.close();
    db.sql = new SQL(db.env.DATABASE_URL);
    // It answers again, but without worker_jobs it cannot take rows: still not ready, and it says why.
    const empty = await waitUntil('/ready to name the missing table', async () => {
      const result = await ready();
      return result.status === 503 && result.body.checks.database.error?.includes('worker_jobs does not exist') && result;
    });
    expect(empty.body.checks.database.error).toContain('bun run db:migrate');
  });

  test.skipIf(noPostgres)('the database came back empty: history names db:migrate, jobs still run, and their rows land once it has run', async () => {
    const history = await server.request('/api/v1/jobs/history');
    expect(history.status).toBe(503);
    const { error } = (await history.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('AUDIT_UNAVAILABLE');
    expect(error.message).toContain('the audit table worker_jobs does not exist');
    expect(error.message).toContain('bun run db:migrate');

    const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'before the migration' } } });
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    await waitUntil(`job ${id} to complete`, async () => ((await (await server.request(`/api/v1/jobs/${id}`)).json()) as any).state === 'completed');

    await waitUntil('the writer to log the missing table', () =>
      server.logs().some((line) => String(line.msg).startsWith('audit table worker_jobs missing; records wait in redis')),
    );

    const migrate = Bun.spawn([process.execPath, 'run', 'db:migrate'], { cwd: REPO_ROOT, env: { ...server.env, ...db.env }, stdout: 'pipe', stderr: 'pipe' });
    expect(await migrate.exited).toBe(0);
    await waitUntil('/ready to report 200 once migrated', async () => (await ready()).status === 200);
    // The writer took the missing table for an outage and kept the record in Redis; now it lands.
    const job = await waitUntil(`job ${id}'s audit row`, async () => {
      const body = (await (await server.request(`/api/v1/jobs/${id}`)).json()) as any;
      return body.audit?.length === 1 && body;
    });
    expect(job.audit[0]).toMatchObject({ jobId: id, status: 'completed', attempt: 1 });
  });
});

describe.skipIf(noPostgres)('a real server whose database role may read worker_jobs but not insert into it', () => {
  const role = `sluice_ro_${crypto.randomUUID().slice(0, 8)}`;
  let db: TestDatabase;
  let server: ServerProcess;
  const ready = async () => {
    const response = await server.request('/ready');
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    db = await createTestDatabase('ready_role');
    // The owner applies the migrations; the server's role may read but (for now) not insert.
    const migrate = Bun.spawn([process.execPath, 'run', 'db:migrate'], { cwd: REPO_ROOT, env: { ...process.env, ...db.env }, stdout: 'ignore', stderr: 'inherit' });
    expect(await migrate.exited).toBe(0);
    await db.sql!.unsafe(`create role ${role} login`);
    await db.sql!.unsafe(`grant usage on schema public, drizzle to ${role}`);
    await db.sql!.unsafe(`grant select on worker_jobs, drizzle.__drizzle_migrations to ${role}`);
    await db.sql!.unsafe(`grant usage on all sequences in schema public to ${role}`);
    const url = new URL(db.env.DATABASE_URL);
    url.username = role;
    server = await spawnServer({ label: 'ready-role', env: { DATABASE_URL: url.toString(), WORKER_COUNT: '1' } });
  }, SERVER_HOOK_TIMEOUT_MS);

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
    const { SQL } = await import('bun');
    const admin = new SQL(TEST_POSTGRES_URL);
    await admin.unsafe(`drop role if exists ${role}`);
    await admin.close();
  });

  test('503 naming the refused insert while the record waits in Redis; after GRANT INSERT the row lands once and /ready is 200', async () => {
    const submitted = await server.request('/api/v1/jobs', { method: 'POST', json: { type: 'echo', data: { message: 'refused at first' } } });
    expect(submitted.status).toBe(201);
    const { id } = (await submitted.json()) as { id: string };
    // Its reads answer, so a ping alone said "up" while no row could get in.
    const refused = await waitUntil('/ready to report the refused insert', async () => {
      const result = await ready();
      return result.status === 503 && result;
    });
    expect(refused.body.checks.database).toMatchObject({ status: 'down', error: 'the audit writer cannot write: permission denied for table worker_jobs' });
    const messages = server.logs().map((line) => line.msg);
    expect(messages).toContain('audit store refuses this role its inserts; records wait in redis until it may insert into worker_jobs');
    expect(messages).not.toContain('audit store unreachable; records wait in redis');

    await db.sql!.unsafe(`grant insert on worker_jobs to ${role}`);
    await waitUntil('/ready to report 200 after the grant', async () => (await ready()).status === 200);
    const rows = await waitUntil(`job ${id}'s row`, async () => {
      const found = await db.sql!`select status from worker_jobs where job_id = ${id}`;
      return found.length > 0 && found;
    });
    expect([...rows]).toEqual([{ status: 'completed' }]);
  });
});

describe('checkReadiness and worker processes', () => {
  const prefix = uniquePrefix('ready-workers');
  let queue: QueueManager<JobRegistry>;

  beforeAll(async () => {
    queue = await QueueManager.open<JobRegistry>({ config: testConfig({ QUEUE_PREFIX: prefix }), registry: jobRegistry });
  });
  afterAll(() => queue.close());

  const check = (states: string[]) =>
    checkReadiness({ queue, auditEnabled: false, workers: () => states.map((state) => ({ state, restarts: 0 })) });

  test('not ready until at least one worker process is ready', async () => {
    expect((await check([])).ready).toBe(false);
    expect((await check(['starting', 'backoff'])).ready).toBe(false);
    const one = await check(['backoff', 'ready']);
    expect(one.ready).toBe(true);
    expect(one.checks.workers).toEqual({ status: 'up', up: 1, total: 2 });
    // Auditing switched off: the database is not a readiness condition.
    expect(one.checks.database.status).toBe('disabled');
  });

  test('a server without a supervisor in its process is not ready', async () => {
    const result = await checkReadiness({ queue, auditEnabled: false });
    expect(result.ready).toBe(false);
    expect(result.checks.workers).toEqual({ status: 'down', up: 0, total: 0 });
  });
});
